// mlpcore._core.full_batch_gradients: the loss of a batch and its gradients
// with respect to the parameters only, what a full-batch optimizer (L-BFGS in
// mlpcore.sklearn) needs at every evaluation. loss_gradients (model.cpp) also
// returns d loss / d X for gradient checks: one more product and an array of the
// inputs' size, which an optimizer never reads. Glue only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "busy.h"
#include "mlpcore/gradients.h"
#include "mlpcore/losses.h"
#include "mlpcore/network.h"

namespace mlpcore::bindings {

namespace py = pybind11;

namespace {

py::tuple full_batch_gradients_py(Network& net, const py::handle& loss_name, const py::handle& x,
                                  const py::handle& y, const py::object& w) {
  const LossKind loss = parse_loss(loss_name);
  const CheckedData data = check_data(net, loss, x, y, w);
  const std::size_t rows = data.x.shape(0);
  double per_row = static_cast<double>(2 * net.max_width());
  for (std::size_t l = 0; l < net.num_layers(); ++l) per_row += static_cast<double>(net.fan_out(l));
  require_memory("X", 4.0 * per_row * static_cast<double>(rows),
                 "the gradients of a batch of " + std::to_string(rows) + " rows");
  const Dataset view = data.view();
  Use use(&net, true, "full_batch_gradients");
  double value;
  {
    NativeSection native;
    value = loss_and_gradients(net, loss, view.x, view.rows, view.targets, view.sample_weight, nullptr);
  }
  py::list layers;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    FloatArray dw({net.fan_in(l), net.fan_out(l)});
    FloatArray db(std::vector<py::ssize_t>{static_cast<py::ssize_t>(net.fan_out(l))});
    std::copy_n(net.grads() + net.weight_offset(l), dw.size(), dw.mutable_data());
    std::copy_n(net.grads() + net.bias_offset(l), db.size(), db.mutable_data());
    layers.append(py::make_tuple(dw, db));
  }
  return py::make_tuple(value, layers);
}

}  // namespace

void bind_full_batch(py::module_& m) {
  m.def("full_batch_gradients", &full_batch_gradients_py, py::arg("network"), py::arg("loss"), py::arg("X"),
        py::arg("y"), py::arg("sample_weight") = py::none(),
        "(loss, [(dW, db), ...]) of one batch from backpropagation, without the inputs' gradient "
        "(for full-batch optimizers: mlpcore.sklearn's L-BFGS).");
}

}  // namespace mlpcore::bindings
