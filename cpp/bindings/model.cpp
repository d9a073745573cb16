// mlpcore._core's model: Network, Sgd, Trainer, StepThreads, evaluate and
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
#include "mlpcore/sgd.h"
#include "mlpcore/step_threads.h"
#include "mlpcore/trainer.h"

namespace mlpcore::bindings {

namespace {

// ---------------------------------------------------------------- the flat buffers
// Parameters, gradients and the momentum buffer are flat buffers laid out as the
// network's parameters; Python sees them as a list of (W, b) pairs (so files do
// not depend on the flat buffer's padding) or, for cheap snapshots within one
// process, as the flat buffer itself.

// The (W, b) pairs of a buffer laid out as `net`'s parameters, as new arrays
// filled straight from the buffer's memory (no copy of the whole buffer).
py::list pairs_from_flat(const Network& net, const DeviceBuffer<float>& flat) {
  py::list out;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    FloatArray w({net.fan_in(l), net.fan_out(l)});
    FloatArray b(std::vector<py::ssize_t>{static_cast<py::ssize_t>(net.fan_out(l))});
    float *pw = w.mutable_data(), *pb = b.mutable_data();
    const std::size_t nw = w.size(), nb = b.size();
    {
      NativeSection native;
      flat.download_range(net.weight_offset(l), pw, nw);
      flat.download_range(net.bias_offset(l), pb, nb);
    }
    out.append(py::make_tuple(w, b));
  }
  return out;
}

// How two errors are worded: set_params names W or b alone and says how many
// items a pair had; set_state (the momentum buffer) shows both shapes at once.
enum class PairWording { per_array, per_pair };

// (W, b) pairs from Python, checked against `net`'s layers (count, shapes,
// finite values) and kept alive until copied into a flat buffer by
// flat_from_pairs. `name` is the argument ("weights", "velocity").
std::vector<std::pair<FloatArray, FloatArray>> check_pairs(const Network& net, const char* name,
                                                           const py::handle& obj, PairWording wording) {
  const py::list layers = list_arg(name, obj);
  if (layers.size() != net.num_layers()) {
    throw py::value_error(std::string(name) + ": expected " + std::to_string(net.num_layers()) +
                          " (W, b) pairs, got " + std::to_string(layers.size()));
  }
  std::vector<std::pair<FloatArray, FloatArray>> checked;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    const std::string where = std::string(name) + "[" + std::to_string(l) + "]";
    if (!py::isinstance<py::list>(layers[l]) && !py::isinstance<py::tuple>(layers[l])) {
      throw py::type_error(where + ": expected a (W, b) pair, got " + type_name(layers[l]));
    }
    const py::list pair = py::reinterpret_steal<py::list>(PySequence_List(layers[l].ptr()));
    if (pair.size() != 2) {
      throw py::value_error(where + ": expected a (W, b) pair" +
                            (wording == PairWording::per_array ? ", got " + std::to_string(pair.size()) + " items"
                                                               : std::string()));
    }
    FloatArray w = as_floats((where + "[0]").c_str(), pair[0], 2), b = as_floats((where + "[1]").c_str(), pair[1], 1);
    const bool w_ok = static_cast<std::size_t>(w.shape(0)) == net.fan_in(l) &&
                      static_cast<std::size_t>(w.shape(1)) == net.fan_out(l);
    const bool b_ok = static_cast<std::size_t>(b.shape(0)) == net.fan_out(l);
    const std::string w_shape = "(" + std::to_string(net.fan_in(l)) + ", " + std::to_string(net.fan_out(l)) + ")";
    const std::string b_shape = "(" + std::to_string(net.fan_out(l)) + ",)";
    if (wording == PairWording::per_array) {
      if (!w_ok) throw py::value_error(where + "[0]: expected W of shape " + w_shape + ", got " + shape_str(w));
      if (!b_ok) throw py::value_error(where + "[1]: expected b of shape " + b_shape + ", got " + shape_str(b));
    } else if (!w_ok || !b_ok) {
      throw py::value_error(where + ": expected shapes " + w_shape + " and " + b_shape + ", got " + shape_str(w) +
                            " and " + shape_str(b));
    }
    require_finite((where + "[0]").c_str(), w);
    require_finite((where + "[1]").c_str(), b);
    checked.emplace_back(w, b);
  }
  return checked;
}

// Copies checked pairs into a buffer laid out as `net`'s parameters (padding untouched).
void flat_from_pairs(const Network& net, const std::vector<std::pair<FloatArray, FloatArray>>& pairs,
                     DeviceBuffer<float>& flat) {
  NativeSection native;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    flat.upload_range(net.weight_offset(l), pairs[l].first.data(), pairs[l].first.size());
    flat.upload_range(net.bias_offset(l), pairs[l].second.data(), pairs[l].second.size());
  }
}

// The first n values of a flat buffer, as a new 1-d array.
FloatArray flat_array(const DeviceBuffer<float>& flat, std::size_t n) {
  FloatArray out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(n)});
  float* host = out.mutable_data();
  NativeSection native;
  flat.download(host, n);
  return out;
}

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

// ---------------------------------------------------------------- Sgd

std::unique_ptr<Sgd> make_sgd(const Network& net, const py::handle& lr, const py::handle& momentum,
                              const py::handle& dampening, const py::handle& weight_decay, const py::handle& nesterov,
                              const py::handle& decay_bias) {
  const SgdConfig c = make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
  const bool decay_biases = bool_arg("decay_bias", decay_bias);
  require_memory(net.backend(), "network", 4.0 * static_cast<double>(net.param_count()), "the momentum buffer");
  auto sgd = std::make_unique<Sgd>(c, net.param_count(), net.backend());
  if (!decay_biases) sgd->set_decay_exempt(net.bias_ranges());
  return sgd;
}

// The optimizer's state, for save/load: the momentum buffer as the network's
// (W, b) pairs and the step count.
py::tuple sgd_state(Sgd& sgd, const Network& net) {
  require_same_size("network", sgd.size(), net.param_count());
  Use use(&sgd, false, "optimizer state");
  return py::make_tuple(pairs_from_flat(net, sgd.velocity_buffer()), sgd.steps());
}

void set_sgd_state(Sgd& sgd, const Network& net, const py::handle& velocity_obj, const py::handle& steps_obj) {
  require_same_size("network", sgd.size(), net.param_count());
  const auto steps = static_cast<std::size_t>(int_arg("steps", steps_obj, 0, (1LL << 62)));
  const auto checked = check_pairs(net, "velocity", velocity_obj, PairWording::per_pair);
  Use use(&sgd, true, "optimizer state");
  {
    NativeSection native;
    sgd.velocity_buffer().fill_zero();
  }
  flat_from_pairs(net, checked, sgd.velocity_buffer());
  sgd.parameters_changed();
  sgd.set_steps(steps);
}

// The flat momentum buffer, for cheap snapshots within one process.
FloatArray flat_velocity(Sgd& sgd) {
  Use use(&sgd, false, "optimizer state");
  return flat_array(sgd.velocity_buffer(), sgd.size());
}

void set_flat_velocity(Sgd& sgd, const py::handle& obj, const py::handle& steps_obj) {
  FloatArray v = flat_arg("velocity", obj, sgd.size());
  require_finite("velocity", v);
  const auto steps = static_cast<std::size_t>(int_arg("steps", steps_obj, 0, (1LL << 62)));
  Use use(&sgd, true, "optimizer state");
  const float* host = v.data();
  {
    NativeSection native;
    sgd.upload_velocity(host);
  }
  sgd.set_steps(steps);
}

bool sgd_state_finite(Sgd& sgd) {
  Use use(&sgd, false, "optimizer state");
  const FloatArray v = flat_array(sgd.velocity_buffer(), sgd.size());
  return all_finite(v.data(), sgd.size());
}

void sgd_to(Sgd& sgd, const py::handle& device_obj) {
  const Backend& backend = parse_device(device_obj);
  require_memory(backend, "device", 4.0 * static_cast<double>(sgd.size()), "the momentum buffer");
  Use use(&sgd, true, "to");
  NativeSection native;
  sgd.to(backend);
}

// One SGD step from the given gradients, applied only if it and its results are
// finite (the trainer's per-step rule, exposed for tests). Returns whether it was.
bool sgd_step_if_finite(Sgd& sgd, Network& net, const py::handle& grads_obj) {
  require_same_size("network", sgd.size(), net.param_count());
  if (&sgd.backend() != &net.backend()) throw py::value_error("network: on another device than the optimizer");
  FloatArray g = flat_arg("grads", grads_obj, sgd.size());
  Use use_net(&net, true, "step_if_finite");
  Use use_sgd(&sgd, true, "optimizer state");
  const float* host = g.data();
  NativeSection native;
  const Backend& backend = net.backend();
  backend.upload(net.grads(), host, sgd.size() * sizeof(float));
  DeviceBuffer<Verdict> verdict(backend, 1);
  sgd.parameters_changed();  // the weights may have been set since the last step
  const std::size_t steps = sgd.steps();
  sgd.update(net.params(), net.grads(), verdict.data(), verdict_code(0, Divergence::update));
  Verdict v = 0;
  verdict.download(&v, 1);
  sgd.set_steps(v == 0 ? steps + 1 : steps);
  return v == 0;
}

// ---------------------------------------------------------------- Trainer, evaluate

// A Trainer with the checked arrays of the data it was given: where the backend
// reads host memory the trainer borrows them, so they live as long as it does.
struct BoundTrainer {
  std::unique_ptr<Trainer> trainer;
  std::optional<CheckedData> data;
};

std::unique_ptr<BoundTrainer> make_trainer(Network& net, Sgd& sgd, const py::handle& loss_obj,
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
  const double bytes = 4.0 * static_cast<double>(data.x.size()) * (net.backend().host_memory ? 0.0 : 1.0);
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
  const std::size_t rows = data.x.shape(0);
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
    value = loss_and_gradients(net, loss, view.x, view.rows, view.targets, view.sample_weight, pdx,
                               fault ? &*fault : nullptr);
  }
  return py::make_tuple(value, pairs_from_flat(net, net.grad_buffer()), dx);
}

}  // namespace

SgdConfig make_sgd_config(const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                          const py::handle& weight_decay, const py::handle& nesterov) {
  SgdConfig c{float_arg("lr", lr), float_arg("momentum", momentum), float_arg("dampening", dampening),
              float_arg("weight_decay", weight_decay), bool_arg("nesterov", nesterov)};
  validate(c);
  return c;
}

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
  m.def("check_sgd", [](const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                        const py::handle& weight_decay, const py::handle& nesterov) {
    make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
  }, py::arg("lr"), py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"),
        "Raises what Sgd(...) would for these settings: types and ranges are checked in one place.");

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
      .def("predict", &predict_py, py::arg("X"), py::arg("transform") = "none");

  py::class_<Sgd>(m, "Sgd")
      .def(py::init(&make_sgd),
           py::arg("network"), py::arg("lr"), py::arg("momentum") = 0.0f, py::arg("dampening") = 0.0f,
           py::arg("weight_decay") = 0.0f, py::arg("nesterov") = false, py::arg("decay_bias") = true)
      .def("set_lr", [](Sgd& s, const py::handle& lr) {
        SgdConfig c = s.config();
        c.lr = float_arg("lr", lr);
        validate(c);
        Use use(&s, true, "set_lr");
        s.set_config(c);
      }, py::arg("lr"))
      .def("get_state", &sgd_state, py::arg("network"))
      .def("set_state", &set_sgd_state, py::arg("network"), py::arg("velocity"), py::arg("steps"))
      .def("get_flat_state", [](Sgd& s) { return py::make_tuple(flat_velocity(s), s.steps()); })
      .def("set_flat_state", &set_flat_velocity, py::arg("velocity"), py::arg("steps"))
      .def("step_if_finite", &sgd_step_if_finite, py::arg("network"), py::arg("grads"))
      .def("state_finite", &sgd_state_finite)
      .def_property_readonly("device", [](const Sgd& s) { return std::string(device_name(s.backend().device)); })
      .def("to", &sgd_to, py::arg("device"), "Moves the momentum buffer to the device's memory.")
      .def_property_readonly("size", &Sgd::size)
      .def_property_readonly("steps", &Sgd::steps);

  py::class_<BoundTrainer>(m, "Trainer")
      .def(py::init(&make_trainer), py::arg("network"), py::arg("sgd"), py::arg("loss"), py::arg("batch_size"),
           py::keep_alive<1, 2>(), py::keep_alive<1, 3>())
      .def("load_data", &load_data_py, py::arg("X"), py::arg("y"), py::arg("sample_weight") = py::none(),
           "Checks the data and makes it what run_epoch trains on (copied to the device once).")
      .def("release_data", [](BoundTrainer& t) {
        Use use(&t, true, "release_data");
        t.trainer->release_data();
        t.data.reset();
      }, "Lets go of the data load_data gave (its device copy, or the arrays it borrowed).")
      .def("run_epoch", &run_epoch_py, py::arg("shuffle") = true, py::arg("seed") = 0, py::arg("epoch") = 0)
      .def_property_readonly("batch_size", [](const BoundTrainer& t) { return t.trainer->batch_size(); });

  m.def("evaluate", &evaluate_py, py::arg("network"), py::arg("loss"), py::arg("X"), py::arg("y"),
        py::arg("sample_weight") = py::none());
  m.def("loss_gradients", &loss_gradients_py, py::arg("network"), py::arg("loss"), py::arg("X"), py::arg("y"),
        py::arg("sample_weight") = py::none(), py::arg("_fault") = py::none(),
        "(loss, [(dW, db), ...], dX) of one batch from backpropagation (for mlpcore.gradcheck); "
        "_fault is for tests only.");

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
