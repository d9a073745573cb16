// mlpcore._core's model: Network, Trainer, StepThreads, evaluate and
// loss_gradients, on the device each is given. Glue only: arguments are
// checked, the model is guarded against conflicting use, the GIL is released
// around the core's work, and state crosses to the host only when asked.
#include "model.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "busy.h"
#include "mlpcore/gradients.h"
#include "mlpcore/losses.h"
#include "mlpcore/network.h"
#include "flat_pairs.h"
#include "mlpcore/optimizer.h"
#include "mlpcore/step_threads.h"
#include "mlpcore/trainer.h"

namespace mlpcore::bindings {

namespace {

// ---------------------------------------------------------------- Network

std::unique_ptr<Network> make_network(const py::handle& input_dim_obj, const py::handle& units_obj,
                                      const py::handle& acts_obj, const py::handle& inits_obj,
                                      const py::handle& seed_obj, const py::handle& device_obj) {
  const std::size_t input_dim = static_cast<std::size_t>(int_arg("input_dim", input_dim_obj, 1, kMaxSize));
  const py::list units = list_arg("units", units_obj), acts = list_arg("activations", acts_obj),
                 inits = list_arg("inits", inits_obj);
  const std::uint64_t seed = u64_arg("seed", seed_obj);
  const Backend& backend = parse_device(device_obj);
  if (units.size() == 0) throw py::value_error("units: expected at least one layer, got none");
  if (units.size() != acts.size() || units.size() != inits.size()) {
    throw py::value_error("layers: units, activations and inits must have the same length, got " +
                          std::to_string(units.size()) + ", " + std::to_string(acts.size()) + " and " +
                          std::to_string(inits.size()));
  }
  std::vector<DenseSpec> specs;
  double params = 0.0;
  double fan_in = static_cast<double>(input_dim);
  for (std::size_t i = 0; i < units.size(); ++i) {
    const std::size_t n = static_cast<std::size_t>(int_arg("units", units[i], 1, kMaxSize));
    specs.push_back(DenseSpec{n, parse_activation(acts[i]), parse_init(inits[i])});
    params += fan_in * static_cast<double>(n) + static_cast<double>(n);
    fan_in = static_cast<double>(n);
  }
  // Parameters and gradients (the optimizer adds a third copy when it has momentum).
  require_memory(backend, "units", 2.0 * 4.0 * params, "a network of " + std::to_string(static_cast<long long>(params)) +
                 " parameters");
  try {
    return std::make_unique<Network>(input_dim, std::move(specs), seed, backend);
  } catch (const std::bad_alloc&) {
    throw_memory_error("units: not enough memory for a network of " +
                       std::to_string(static_cast<long long>(params)) + " parameters");
  }
}

py::list get_params(const Network& net) {
  Use use(&net, false, "get_weights");
  return pairs_from_flat(net, net.param_buffer());
}

void set_params(Network& net, const py::handle& layers_obj) {
  const auto checked = check_pairs(net, "weights", layers_obj, PairWording::per_array);
  Use use(&net, true, "set_weights");
  flat_from_pairs(net, checked, net.param_buffer());  // all checked: now write
}

// The flat parameter buffer (layer padding included), for cheap snapshots.
FloatArray flat_params(const Network& net) {
  Use use(&net, false, "get_weights");
  return flat_array(net.param_buffer(), net.param_count());
}

void set_flat_params(Network& net, const py::handle& obj) {
  FloatArray p = flat_arg("params", obj, net.param_count());
  require_finite("params", p);
  Use use(&net, true, "set_weights");
  const float* host = p.data();
  NativeSection native;
  net.upload_params(host);
}

double weights_squared_norm(const Network& net) {
  Use use(&net, false, "weights_squared_norm");
  NativeSection native;
  return net.weights_squared_norm();
}

FloatArray predict_py(const Network& net, const py::handle& x_obj, const py::handle& transform) {
  if (is_sparse(x_obj)) {
    const CheckedCsr x = check_csr("X", x_obj, net.input_dim());
    const std::optional<LossKind> kind = parse_transform(transform);
    require_memory(net.backend(), "X", net.backend().host_memory ? 0.0 : x.bytes(), "the sparse matrix's arrays");
    Use use(&net, false, "predict");
    FloatArray out({x.rows, net.output_dim()});
    const CsrRows view = x.view();
    float* po = out.mutable_data();
    NativeSection native;
    net.predict(view, x.rows, po, kind);
    return out;
  }
  FloatArray x = check_inputs(net, x_obj, "X");
  const std::size_t rows = x.shape(0);
  const std::optional<LossKind> kind = parse_transform(transform);
  Use use(&net, false, "predict");
  FloatArray out({rows, net.output_dim()});
  const float* px = x.data();
  float* po = out.mutable_data();
  NativeSection native;
  net.predict(px, rows, po, kind);
  return out;
}

// Moves the network's parameters to `device`; its optimizer and trainer are made again.
void network_to(Network& net, const py::handle& device_obj) {
  const Backend& backend = parse_device(device_obj);
  require_memory(backend, "device", 2.0 * 4.0 * static_cast<double>(net.param_count()), "the network");
  Use use(&net, true, "to");
  NativeSection native;
  net.to(backend);
}

// ---------------------------------------------------------------- Trainer, evaluate

// A Trainer with the checked arrays of the data it was given: where the backend
// reads host memory the trainer borrows them, so they live as long as it does.
struct BoundTrainer {
  std::unique_ptr<Trainer> trainer;
  std::optional<CheckedData> data;
};

std::unique_ptr<BoundTrainer> make_trainer(Network& net, Optimizer& sgd, const py::handle& loss_obj,
                                           const py::handle& batch_obj) {
  const LossKind loss = parse_loss(loss_obj);
  const auto batch = static_cast<std::size_t>(int_arg("batch_size", batch_obj, 1, kMaxSize));
  require_same_size("sgd", sgd.size(), net.param_count());
  if (&sgd.backend() != &net.backend()) throw py::value_error("sgd: on another device than the network");
  require_memory(net.backend(), "batch_size", Trainer::workspace_bytes_per_row(net) * static_cast<double>(batch),
                 "a batch of " + std::to_string(batch) + " rows");
  auto bound = std::make_unique<BoundTrainer>();
  try {
    bound->trainer = std::make_unique<Trainer>(net, sgd, loss, batch);
  } catch (const std::bad_alloc&) {
    throw_memory_error("batch_size: not enough memory for the workspaces of a batch of " +
                       std::to_string(batch) + " rows");
  }
  return bound;
}

// Checks the data once and makes it the trainer's (copied to the device once).
void load_data_py(BoundTrainer& t, const py::handle& x, const py::handle& y, const py::object& w) {
  const Network& net = t.trainer->network();
  CheckedData data = check_data(net, t.trainer->loss(), x, y, w);
  const double bytes = net.backend().host_memory ? 0.0 : data.x_bytes();
  require_memory(net.backend(), "X", bytes, "the training data");
  Use use(&t, true, "load_data");
  const Dataset view = data.view();
  {
    NativeSection native;
    t.trainer->load_data(view);
  }
  t.data = std::move(data);
}

py::dict run_epoch_py(BoundTrainer& t, const py::handle& shuffle_obj, const py::handle& seed_obj,
                      const py::handle& epoch_obj) {
  const bool shuffle = bool_arg("shuffle", shuffle_obj);
  const std::uint64_t seed = u64_arg("seed", seed_obj), epoch = u64_arg("epoch", epoch_obj);
  if (!t.trainer->has_data()) throw py::value_error("run_epoch: no data; call load_data first");
  Use use_trainer(&t, true, "fit");
  Use use_net(&t.trainer->network(), true, "fit");
  Use use_sgd(&t.trainer->optimizer(), true, "fit");
  return run_interruptible([&](const std::function<bool()>& interrupted) {
    return t.trainer->run_epoch(shuffle, seed, epoch, interrupted);
  });
}

py::dict evaluate_py(const Network& net, const py::handle& loss_name, const py::handle& x,
                     const py::handle& y, const py::object& w) {
  const LossKind loss = parse_loss(loss_name);
  const CheckedData data = check_data(net, loss, x, y, w);
  require_memory(net.backend(), "X", net.backend().host_memory || !data.x_csr ? 0.0 : data.x_bytes(),
                 "the sparse matrix's arrays");
  Use use(&net, false, "evaluate");
  EpochStats stats;
  const Dataset view = data.view();
  {
    NativeSection native;
    stats = mlpcore::evaluate(net, loss, view);
  }
  return stats_dict(stats);
}

// ---------------------------------------------------------------- gradients (mlpcore.gradcheck)

// (loss, [(dW, db), ...], dX) of one batch, from the core's backpropagation.
// `fault` is for tests only: (layer, "W" or "b", scale) makes that gradient
// wrong on purpose, so that a test sees the gradient check name it.
py::tuple loss_gradients_py(Network& net, const py::handle& loss_name, const py::handle& x, const py::handle& y,
                            const py::object& w, const py::object& fault_obj) {
  const LossKind loss = parse_loss(loss_name);
  const CheckedData data = check_data(net, loss, x, y, w);
  std::optional<GradientFault> fault;
  if (!fault_obj.is_none()) {
    const py::list f = list_arg("_fault", fault_obj);
    if (f.size() != 3) throw py::value_error("_fault: expected (layer, 'W' or 'b', scale)");
    const std::string which = str_arg("_fault[1]", f[1]);
    if (which != "W" && which != "b") throw py::value_error("_fault[1]: expected 'W' or 'b', got '" + which + "'");
    fault = GradientFault{static_cast<std::size_t>(int_arg("_fault[0]", f[0], 0, static_cast<long long>(net.num_layers()) - 1)),
                          which == "b", float_arg("_fault[2]", f[2])};
  }
  const std::size_t rows = data.rows();
  // The inputs (made dense when sparse) and their gradient, the pass's workspace.
  const double per_row = static_cast<double>(2 * net.input_dim()) + PassWorkspace::floats_per_row(net);
  require_memory(net.backend(), "X", 4.0 * per_row * static_cast<double>(rows),
                 "the gradients of a batch of " + std::to_string(rows) + " rows");
  FloatArray dx({rows, net.input_dim()});
  float* pdx = dx.mutable_data();
  const Dataset view = data.view();
  Use use(&net, true, "loss_gradients");
  double value;
  {
    NativeSection native;
    value = loss_and_gradients(net, loss, view, pdx, fault ? &*fault : nullptr);
  }
  return py::make_tuple(value, pairs_from_flat(net, net.grad_buffer()), dx);
}

}  // namespace

void require_same_size(const char* name, std::size_t optimizer_size, std::size_t param_count) {
  if (optimizer_size != param_count) {
    throw py::value_error(std::string(name) + ": this optimizer was made for a network of " +
                          std::to_string(optimizer_size) + " parameters, not this one of " +
                          std::to_string(param_count));
  }
}

py::dict stats_dict(const EpochStats& s) {
  py::dict d;
  d["loss"] = s.rows ? s.loss_sum / static_cast<double>(s.rows) : std::nan("");
  d["accuracy"] = s.judged ? static_cast<double>(s.correct) / static_cast<double>(s.judged) : std::nan("");
  d["samples"] = s.rows;
  d["steps"] = s.steps;
  d["interrupted"] = s.interrupted;
  d["diverged"] = s.diverged;
  d["update_refused"] = s.update_refused;
  return d;
}

void bind_model(py::module_& m) {
  py::class_<Network>(m, "Network")
      .def(py::init(&make_network), py::arg("input_dim"), py::arg("units"), py::arg("activations"),
           py::arg("inits"), py::arg("seed"), py::arg("device") = "cpu")
      .def_property_readonly("device", [](const Network& n) { return std::string(device_name(n.backend().device)); })
      .def("to", &network_to, py::arg("device"), "Moves the parameters to the device's memory.")
      .def_property_readonly("input_dim", &Network::input_dim)
      .def_property_readonly("output_dim", &Network::output_dim)
      .def_property_readonly("num_layers", &Network::num_layers)
      .def_property_readonly("param_count", &Network::param_count)
      .def("get_params", &get_params)
      .def("set_params", &set_params, py::arg("weights"))
      .def("get_flat_params", &flat_params)
      .def("set_flat_params", &set_flat_params, py::arg("params"))
      .def("weights_squared_norm", &weights_squared_norm)
      .def("predict", &predict_py, py::arg("X"), py::arg("transform") = "none",
           "Outputs for the rows of X: a float32 array, or a scipy.sparse CSR matrix made dense a chunk of rows "
           "at a time.");

  py::class_<BoundTrainer>(m, "Trainer")
      .def(py::init(&make_trainer), py::arg("network"), py::arg("sgd"), py::arg("loss"), py::arg("batch_size"),
           py::keep_alive<1, 2>(), py::keep_alive<1, 3>())
      .def("load_data", &load_data_py, py::arg("X"), py::arg("y"), py::arg("sample_weight") = py::none(),
           "Checks the data and makes it what run_epoch trains on (copied to the device once); X is a float32 "
           "array or a scipy.sparse CSR matrix, whose batches are made dense as they are drawn.")
      .def("release_data", [](BoundTrainer& t) {
        Use use(&t, true, "release_data");
        t.trainer->release_data();
        t.data.reset();
      }, "Lets go of the data load_data gave (its device copy, or the arrays it borrowed).")
      .def("run_epoch", &run_epoch_py, py::arg("shuffle") = true, py::arg("seed") = 0, py::arg("epoch") = 0)
      .def_property_readonly("batch_size", [](const BoundTrainer& t) { return t.trainer->batch_size(); });

  m.def("evaluate", &evaluate_py, py::arg("network"), py::arg("loss"), py::arg("X"), py::arg("y"),
        py::arg("sample_weight") = py::none());
  m.def("check_csr", [](const py::handle& name, const py::handle& x, const py::object& columns) {
    const std::string n = str_arg("name", name);
    std::optional<std::size_t> cols;
    if (!columns.is_none()) cols = static_cast<std::size_t>(int_arg("columns", columns, 1, kMaxSize));
    if (!is_sparse(x)) throw py::type_error(n + ": expected a scipy.sparse matrix, got " + type_name(x));
    check_csr(n.c_str(), x, cols);
  }, py::arg("name"), py::arg("X"), py::arg("columns") = py::none(),
        "Raises what fit, predict and evaluate would for the sparse matrix X, naming it `name`.");
  m.def("loss_gradients", &loss_gradients_py, py::arg("network"), py::arg("loss"), py::arg("X"), py::arg("y"),
        py::arg("sample_weight") = py::none(), py::arg("_fault") = py::none(),
        "(loss, [(dW, db), ...], dX) of one batch from backpropagation (for mlpcore.gradcheck); X dense or a "
        "scipy.sparse CSR matrix (made dense for the batch); _fault is for tests only.");

  // The fit loop's choice of threads per step, exposed so its policy can be
  // checked against given step times.
  py::class_<StepThreads>(m, "StepThreads")
      .def(py::init([](int max_threads) {
             if (max_threads < 1) {
               throw py::value_error("max_threads: expected an integer >= 1, got " + std::to_string(max_threads));
             }
             return StepThreads(max_threads);
           }),
           py::arg("max_threads"))
      .def("next", &StepThreads::next, "Threads for the next step.")
      .def("record", &StepThreads::record, py::arg("threads"), py::arg("seconds_per_row"),
           "The time the step took, per row of its batch.")
      .def_property_readonly("max_threads", &StepThreads::max_threads);
}

}  // namespace mlpcore::bindings
