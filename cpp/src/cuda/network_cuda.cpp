#include "mlpcore/cuda/network.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "mlpcore/cuda/kernels.h"

namespace mlpcore::cuda {

CudaNetwork::CudaNetwork(const Network& host)
    : input_dim_(host.input_dim()), specs_(host.specs()), param_count_(host.param_count()) {
  require_device();
  for (std::size_t l = 0; l < host.num_layers(); ++l) offsets_.push_back(host.weight_offset(l));
  grads_.resize(param_count_);
  copy_from(host);
}

std::size_t CudaNetwork::max_width() const {
  std::size_t w = 0;
  for (const auto& s : specs_) w = std::max(w, s.units);
  return w;
}

bool CudaNetwork::same_layers(const Network& host) const {
  if (host.input_dim() != input_dim_ || host.num_layers() != num_layers() ||
      host.param_count() != param_count_) {
    return false;
  }
  for (std::size_t l = 0; l < num_layers(); ++l) {
    if (host.fan_out(l) != fan_out(l) || host.activation(l) != activation(l) ||
        host.weight_offset(l) != weight_offset(l)) {
      return false;
    }
  }
  return true;
}

void CudaNetwork::copy_from(const Network& host) {
  if (!same_layers(host)) throw std::invalid_argument("network: the host network has different layers");
  params_.upload(host.params(), param_count_);
}

void CudaNetwork::copy_to(Network& host) const {
  if (!same_layers(host)) throw std::invalid_argument("network: the host network has different layers");
  params_.download(host.params(), param_count_);
}

const float* CudaNetwork::forward(const float* x, std::size_t rows, const std::vector<float*>& acts) const {
  const float* in = x;
  for (std::size_t l = 0; l < num_layers(); ++l) {
    const std::size_t k = fan_in(l), n = fan_out(l);
    Epilogue ep{params_.data() + bias_offset(l), activation(l)};
    cuda::sgemm(Trans::no, Trans::no, rows, n, k, 1.0f, in, k, params_.data() + weight_offset(l), n, 0.0f,
          acts[l], n, ep);
    in = acts[l];
  }
  return in;
}

void CudaNetwork::backward(const float* x, std::size_t rows, const std::vector<float*>& acts, float* delta,
                           float* scratch) {
  // As Network::backward: the last layer's activation derivative is a pass of
  // its own; then, layer by layer, dW = X^T dZ with db = the column sums of dZ
  // (an epilogue of that product), and dZ_prev = (dZ W^T) (.) act'(X) with the
  // derivative applied in the product's epilogue.
  const std::size_t last = num_layers() - 1;
  if (activation(last) != Activation::identity) {
    cuda::activation_backward(activation(last), rows * fan_out(last), acts[last], delta, delta);
  }
  for (std::size_t l = num_layers(); l-- > 0;) {
    const std::size_t k = fan_in(l), n = fan_out(l);
    const float* in = l == 0 ? x : acts[l - 1];
    Epilogue bias_grad;
    bias_grad.b_column_sums = grads_.data() + bias_offset(l);
    cuda::sgemm(Trans::yes, Trans::no, k, n, rows, 1.0f, in, k, delta, n, 0.0f, grads_.data() + weight_offset(l), n,
                bias_grad);
    if (l > 0) {
      Epilogue derivative;
      if (activation(l - 1) != Activation::identity) {
        derivative.act = activation(l - 1);
        derivative.act_output = acts[l - 1];
        derivative.ld_act_output = k;
      }
      cuda::sgemm(Trans::no, Trans::yes, rows, k, n, 1.0f, delta, n, params_.data() + weight_offset(l), n, 0.0f,
                  scratch, k, derivative);
      std::swap(delta, scratch);
    }
  }
}

void CudaNetwork::predict(const float* x, std::size_t rows, float* out,
                          std::optional<LossKind> transform) const {
  constexpr std::size_t kChunk = 4096;
  const std::size_t chunk = std::min(rows, kChunk);
  DeviceArray<float> x_dev(chunk * input_dim_);
  std::vector<DeviceArray<float>> buffers;
  std::vector<float*> acts;
  for (std::size_t l = 0; l < num_layers(); ++l) {
    buffers.emplace_back(chunk * fan_out(l));
    acts.push_back(buffers.back().data());
  }
  for (std::size_t r = 0; r < rows; r += chunk) {
    const std::size_t n = std::min(chunk, rows - r);
    copy_to_device(x_dev.data(), x + r * input_dim_, n * input_dim_ * sizeof(float));
    float* logits = const_cast<float*>(forward(x_dev.data(), n, acts));
    if (transform) cuda::output_transform(*transform, n, output_dim(), logits);
    copy_to_host(out + r * output_dim(), logits, n * output_dim() * sizeof(float));
  }
}

}  // namespace mlpcore::cuda
