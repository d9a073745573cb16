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
#include "flat_pairs.h"
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
  const std::size_t rows = data.rows();  // also for a sparse X, whose dense array is empty
  // The inputs (made dense when sparse) and the pass's workspace.
  const double per_row = static_cast<double>(net.input_dim()) + PassWorkspace::floats_per_row(net);
  require_memory(net.backend(), "X", 4.0 * per_row * static_cast<double>(rows),
                 "the gradients of a batch of " + std::to_string(rows) + " rows");
  const Dataset view = data.view();
  Use use(&net, true, "full_batch_gradients");
  double value;
  {
    NativeSection native;
    value = loss_and_gradients(net, loss, view, nullptr);
  }
  return py::make_tuple(value, pairs_from_flat(net, net.grad_buffer()));
}

}  // namespace

void bind_full_batch(py::module_& m) {
  m.def("full_batch_gradients", &full_batch_gradients_py, py::arg("network"), py::arg("loss"), py::arg("X"),
        py::arg("y"), py::arg("sample_weight") = py::none(),
        "(loss, [(dW, db), ...]) of one batch from backpropagation, without the inputs' gradient "
        "(for full-batch optimizers: mlpcore.sklearn's L-BFGS).");
}

}  // namespace mlpcore::bindings
