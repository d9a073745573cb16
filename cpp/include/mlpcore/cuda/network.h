// The GPU twin of mlpcore::Network: the same layers and flat-buffer layout, with
// parameters and gradients in device memory. It is made from a host Network
// (whose initial weights it copies) and copies its weights back to one, so the
// host network stays the reference for shapes, saving and checks.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "mlpcore/cuda/device.h"
#include "mlpcore/losses.h"
#include "mlpcore/network.h"

namespace mlpcore::cuda {

class CudaNetwork {
 public:
  explicit CudaNetwork(const Network& host);

  std::size_t input_dim() const { return input_dim_; }
  std::size_t output_dim() const { return fan_out(num_layers() - 1); }
  std::size_t num_layers() const { return specs_.size(); }
  std::size_t fan_in(std::size_t l) const { return l == 0 ? input_dim_ : specs_[l - 1].units; }
  std::size_t fan_out(std::size_t l) const { return specs_[l].units; }
  Activation activation(std::size_t l) const { return specs_[l].activation; }
  std::size_t max_width() const;
  std::size_t param_count() const { return param_count_; }
  std::size_t weight_offset(std::size_t l) const { return offsets_[l]; }
  std::size_t bias_offset(std::size_t l) const { return offsets_[l] + fan_in(l) * fan_out(l); }

  // Device pointers to the flat buffers.
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }

  // Weights to / from a host network of the same layers (std::invalid_argument otherwise).
  void copy_from(const Network& host);
  void copy_to(Network& host) const;
  bool same_layers(const Network& host) const;

  // As Network::forward / backward, on device arrays.
  const float* forward(const float* x, std::size_t rows, const std::vector<float*>& acts) const;
  void backward(const float* x, std::size_t rows, const std::vector<float*>& acts, float* delta,
                float* scratch);

  // Host rows in, host outputs out: logits, or what output_transform makes of them.
  void predict(const float* x, std::size_t rows, float* out,
               std::optional<LossKind> transform = std::nullopt) const;

 private:
  std::size_t input_dim_;
  std::vector<DenseSpec> specs_;
  std::vector<std::size_t> offsets_;
  std::size_t param_count_;
  DeviceArray<float> params_, grads_;
};

}  // namespace mlpcore::cuda
