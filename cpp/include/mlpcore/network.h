// A multi-layer perceptron: a stack of dense layers whose parameters and
// gradients each live in one flat buffer in the memory of the network's backend
// (backend.h), for the network's life. Layer l maps [rows, fan_in] to
// [rows, fan_out] as act(X W + b), W stored [fan_in, fan_out] row-major,
// b [fan_out]. The network computes only through its backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "mlpcore/backend.h"
#include "mlpcore/kernel_table.h"
#include "mlpcore/losses.h"

namespace mlpcore {

enum class Init : int {
  uniform_fan_in = 0,  // torch.nn.Linear's default: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  glorot_uniform = 1,  // W ~ U(+-sqrt(6 / (fan_in + fan_out))), b = 0
  he_uniform = 2,      // W ~ U(+-sqrt(6 / fan_in)), b = 0
};

struct DenseSpec {
  std::size_t units;
  Activation activation;
  Init init;
};

class Network {
 public:
  // Builds the layers on `backend` and draws their initial weights from Rng(seed)
  // (on the host, so every backend starts from the same weights).
  Network(std::size_t input_dim, std::vector<DenseSpec> layers, std::uint64_t seed,
          const Backend& backend = cpu_backend());

  const Backend& backend() const { return *backend_; }
  // Moves the parameters to another backend's memory (the gradients start again at 0).
  void to(const Backend& backend);

  std::size_t input_dim() const { return input_dim_; }
  std::size_t output_dim() const { return fan_out(num_layers() - 1); }
  std::size_t num_layers() const { return specs_.size(); }
  std::size_t fan_in(std::size_t l) const { return l == 0 ? input_dim_ : specs_[l - 1].units; }
  std::size_t fan_out(std::size_t l) const { return specs_[l].units; }
  Activation activation(std::size_t l) const { return specs_[l].activation; }
  const std::vector<DenseSpec>& specs() const { return specs_; }
  std::size_t max_width() const;

  // Flat buffers (backend memory): layer l's W at weight_offset(l), its b at
  // bias_offset(l); the padding between layers is never read.
  std::size_t param_count() const { return param_count_; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  const float* grads() const { return grads_.data(); }
  std::size_t weight_offset(std::size_t l) const { return offsets_[l]; }
  std::size_t bias_offset(std::size_t l) const { return offsets_[l] + fan_in(l) * fan_out(l); }
  // [begin, end) of every layer's bias in the flat buffer: the ranges exempt
  // from weight decay under scikit-learn's convention.
  std::vector<std::pair<std::size_t, std::size_t>> bias_ranges() const;

  // The whole flat parameter (or gradient) buffer to or from host memory
  // (param_count floats).
  void download_params(float* host) const { params_.download(host, param_count_); }
  void upload_params(const float* host) { params_.upload(host, param_count_); }
  void download_grads(float* host) const { grads_.download(host, param_count_); }
  const DeviceBuffer<float>& param_buffer() const { return params_; }
  DeviceBuffer<float>& param_buffer() { return params_; }
  const DeviceBuffer<float>& grad_buffer() const { return grads_; }

  // Sum of the squares of every weight, biases left out, accumulated in
  // double: the L2 penalty's norm, read in place instead of from a copy.
  double weights_squared_norm() const;

  // Outputs for host rows of x into host `out` ([rows, output_dim]): logits, or
  // what output_transform makes of them. Computed predict_chunk_rows at a time
  // in a workspace of the calling thread that only grows; where the backend
  // gives predict_thread_rows, split among the threads by blocks of that many
  // rows instead (the same bits).
  void predict(const float* x, std::size_t rows, float* out, std::optional<LossKind> transform = std::nullopt) const;
  // The same for the rows of a host CSR matrix (input_dim columns): its arrays
  // go to the backend once, and each chunk of rows is made dense there.
  void predict(const CsrRows& x, std::size_t rows, float* out, std::optional<LossKind> transform = std::nullopt) const;

  // Forward over one batch (backend memory), keeping every layer's output in
  // acts (acts[l] is [rows, fan_out(l)]); returns the last layer's output.
  const float* forward(const float* x, std::size_t rows, const std::vector<float*>& acts) const;

  // Backward over one batch (backend memory): `delta` holds d loss / d output of
  // the last layer ([rows, output_dim]) and is used as scratch together with
  // `scratch` (both [rows, max_width]). Writes every gradient into grads().
  // With gradient_bound, also an upper bound on |every gradient|, from the
  // largest inputs and output derivatives of each layer (a gradient is a sum of
  // `rows` of their products): a pass over rows x width values instead of one
  // over the parameters (read-outs: for backends with host memory). Infinite
  // when one of them is not finite.
  // With input_grad ([rows, input_dim]), also d loss / d x: the first layer's
  // delta times its W transposed, one more product (the training loop passes none).
  void backward(const float* x, std::size_t rows, const std::vector<float*>& acts, float* delta,
                float* scratch, double* gradient_bound = nullptr, float* input_grad = nullptr);

 private:
  const Backend* backend_;
  std::size_t input_dim_;
  std::vector<DenseSpec> specs_;
  std::vector<std::size_t> offsets_;
  std::size_t param_count_ = 0;
  DeviceBuffer<float> params_, grads_;
};

// The buffers of one forward and backward pass over batches of up to `rows`
// rows, in the network's backend memory: every layer's output and two deltas.
struct PassWorkspace {
  PassWorkspace(const Network& net, std::size_t rows);
  std::vector<DeviceBuffer<float>> act_buffers;
  std::vector<float*> acts;
  DeviceBuffer<float> delta, scratch;
  // Floats per row of the batch: what a memory check counts.
  static double floats_per_row(const Network& net);
};

}  // namespace mlpcore
