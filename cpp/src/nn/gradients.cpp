#include "mlpcore/gradients.h"

#include <stdexcept>
#include <vector>

#include "mlpcore/aligned_buffer.h"

namespace mlpcore {

double loss_and_gradients(Network& net, LossKind loss, const float* x, std::size_t rows, const Targets& targets,
                          const float* row_weight, float* input_grad, const GradientFault* fault) {
  if (rows == 0) throw std::invalid_argument("X: expected at least one row, got 0");
  if (fault && fault->layer >= net.num_layers()) throw std::invalid_argument("fault: no such layer");
  const std::size_t L = net.num_layers(), out = net.output_dim();
  std::vector<AlignedBuffer> act_buffers;
  std::vector<float*> acts;
  act_buffers.reserve(L);
  for (std::size_t l = 0; l < L; ++l) {
    act_buffers.emplace_back(rows * net.fan_out(l));
    acts.push_back(act_buffers.back().data());
  }
  AlignedBuffer delta(rows * net.max_width()), scratch(rows * net.max_width());

  const float* logits = net.forward(x, rows, acts);
  const double norm = loss_normalizer(loss, rows, out);
  const double value =
      loss_sum(loss, rows, out, logits, targets, row_weight, delta.data(), static_cast<float>(1.0 / norm)) / norm;
  net.backward(x, rows, acts, delta.data(), scratch.data(), nullptr, input_grad);

  if (fault) {
    const std::size_t l = fault->layer;
    float* g = net.grads() + (fault->bias ? net.bias_offset(l) : net.weight_offset(l));
    const std::size_t n = fault->bias ? net.fan_out(l) : net.fan_in(l) * net.fan_out(l);
    for (std::size_t i = 0; i < n; ++i) g[i] *= fault->scale;
  }
  return value;
}

}  // namespace mlpcore
