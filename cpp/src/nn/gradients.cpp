#include "mlpcore/gradients.h"

#include <stdexcept>
#include <vector>

#include "mlpcore/trainer.h"

namespace mlpcore {

double loss_and_gradients(Network& net, LossKind loss, const Dataset& host, float* input_grad,
                          const GradientFault* fault) {
  const std::size_t rows = host.rows;
  if (rows == 0) throw std::invalid_argument("X: expected at least one row, got 0");
  if (fault && fault->layer >= net.num_layers()) throw std::invalid_argument("fault: no such layer");
  const Backend& backend = net.backend();
  const std::size_t out = net.output_dim();
  const DeviceDataset data(backend, host, net.input_dim(), out);
  PassWorkspace pass(net, rows);
  DeviceBuffer<float> dx(backend, input_grad ? rows * net.input_dim() : 0);
  DeviceBuffer<float> dense(backend, host.sparse() ? rows * net.input_dim() : 0);
  DeviceBuffer<BatchResult> result(backend, 1);
  const float* x = data.view().x;
  if (host.sparse()) {
    backend.gather_csr_rows(rows, net.input_dim(), data.view().x_csr, nullptr, dense.data());
    x = dense.data();
  }

  const float* logits = net.forward(x, rows, pass.acts);
  const double norm = loss_normalizer(loss, rows, out);
  backend.batch_loss(loss, rows, out, logits, data.view().targets, data.view().sample_weight, pass.delta.data(),
                     static_cast<float>(1.0 / norm), result.data(), nullptr, 0);
  net.backward(x, rows, pass.acts, pass.delta.data(), pass.scratch.data(), nullptr,
               input_grad ? dx.data() : nullptr);
  if (input_grad) dx.download(input_grad, rows * net.input_dim());
  BatchResult r;
  result.download(&r, 1);

  if (fault) {
    std::vector<float> grads(net.param_count());
    net.download_grads(grads.data());
    const std::size_t l = fault->layer;
    float* g = grads.data() + (fault->bias ? net.bias_offset(l) : net.weight_offset(l));
    const std::size_t n = fault->bias ? net.fan_out(l) : net.fan_in(l) * net.fan_out(l);
    for (std::size_t i = 0; i < n; ++i) g[i] *= fault->scale;
    backend.upload(net.grads(), grads.data(), grads.size() * sizeof(float));
  }
  return r.loss;
}

}  // namespace mlpcore
