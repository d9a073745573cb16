// A multi-layer perceptron: a stack of dense layers whose parameters,
// gradients (and, in Sgd, momentum) each live in one flat buffer. Layer l maps
// [rows, fan_in] to [rows, fan_out] as act(X W + b), W stored [fan_in, fan_out]
// row-major, b [fan_out].
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mlpcore/aligned_buffer.h"
#include "mlpcore/kernel_table.h"

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
  // Builds the layers and draws their initial weights from Rng(seed).
  Network(std::size_t input_dim, std::vector<DenseSpec> layers, std::uint64_t seed);

  std::size_t input_dim() const { return input_dim_; }
  std::size_t output_dim() const { return fan_out(num_layers() - 1); }
  std::size_t num_layers() const { return specs_.size(); }
  std::size_t fan_in(std::size_t l) const { return l == 0 ? input_dim_ : specs_[l - 1].units; }
  std::size_t fan_out(std::size_t l) const { return specs_[l].units; }
  Activation activation(std::size_t l) const { return specs_[l].activation; }
  const std::vector<DenseSpec>& specs() const { return specs_; }
  std::size_t max_width() const;

  // Flat buffers: layer l's W at weight_offset(l), its b at bias_offset(l).
  std::size_t param_count() const { return param_count_; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  const float* grads() const { return grads_.data(); }
  std::size_t weight_offset(std::size_t l) const { return offsets_[l]; }
  std::size_t bias_offset(std::size_t l) const { return offsets_[l] + fan_in(l) * fan_out(l); }
  // Sum of the squares of every weight, biases left out, accumulated in
  // double: the L2 penalty's norm, read in place instead of from a copy.
  double weights_squared_norm() const;

  // Raw outputs (logits) for rows of x, computed `chunk` rows at a time.
  void predict(const float* x, std::size_t rows, float* out) const;

  // Forward over one batch, keeping every layer's output in acts (acts[l] is
  // [rows, fan_out(l)]); returns the last layer's output.
  const float* forward(const float* x, std::size_t rows, const std::vector<float*>& acts) const;

  // Backward over one batch: `delta` holds d loss / d output of the last layer
  // ([rows, output_dim]) and is used as scratch together with `scratch` (both
  // [rows, max_width]). Writes every gradient into grads().
  // With gradient_bound, also an upper bound on |every gradient|, from the
  // largest inputs and output derivatives of each layer (a gradient is a sum of
  // `rows` of their products): a pass over rows x width values instead of one
  // over the parameters. Infinite when one of them is not finite.
  // With input_grad ([rows, input_dim]), also d loss / d x: the first layer's
  // delta times its W transposed, one more product (the training loop passes none).
  void backward(const float* x, std::size_t rows, const std::vector<float*>& acts, float* delta,
                float* scratch, double* gradient_bound = nullptr, float* input_grad = nullptr);

 private:
  std::size_t input_dim_;
  std::vector<DenseSpec> specs_;
  std::vector<std::size_t> offsets_;
  std::size_t param_count_ = 0;
  AlignedBuffer params_, grads_;
};

}  // namespace mlpcore
