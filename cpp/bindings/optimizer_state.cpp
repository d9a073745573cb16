// mlpcore._core.Optimizer: an optimizer of any kind made for one network, on
// that network's device; its settings, its state (as the network's (W, b)
// pairs for files, or flat for snapshots) and its step count. Glue only: the
// settings' rules are optimizer_configs.h's, the update is the core's.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "busy.h"
#include "flat_pairs.h"
#include "model.h"
#include "optimizers.h"
#include "mlpcore/network.h"
#include "mlpcore/optimizer.h"

namespace mlpcore::bindings {

namespace {

const char* kind_name(const OptimizerSettings& s) {
  switch (s.kind) {
    case OptimizerKind::sgd: return "sgd";
    case OptimizerKind::adam: return s.adam.decoupled ? "adamw" : "adam";
    case OptimizerKind::rmsprop: return "rmsprop";
    case OptimizerKind::adagrad: return "adagrad";
  }
  return "";
}

py::object setting(const py::dict& config, const char* key) {
  if (!config.contains(key)) throw py::value_error(std::string("config: missing '") + key + "'");
  return config[key];
}

// A kind's settings from the dict its Python class gives (get_config()).
OptimizerSettings settings_from(const std::string& kind, const py::dict& c) {
  OptimizerSettings s;
  if (kind == "sgd") {
    s.kind = OptimizerKind::sgd;
    s.sgd = make_sgd_config(setting(c, "lr"), setting(c, "momentum"), setting(c, "dampening"),
                            setting(c, "weight_decay"), setting(c, "nesterov"));
  } else if (kind == "adam" || kind == "adamw") {
    s.kind = OptimizerKind::adam;
    s.adam = make_adam_config(setting(c, "lr"), setting(c, "betas"), setting(c, "eps"), setting(c, "weight_decay"),
                              setting(c, "amsgrad"), py::bool_(kind == "adamw"));
  } else if (kind == "rmsprop") {
    s.kind = OptimizerKind::rmsprop;
    s.rmsprop = make_rmsprop_config(setting(c, "lr"), setting(c, "alpha"), setting(c, "eps"),
                                    setting(c, "weight_decay"), setting(c, "momentum"), setting(c, "centered"));
  } else if (kind == "adagrad") {
    s.kind = OptimizerKind::adagrad;
    s.adagrad = make_adagrad_config(setting(c, "lr"), setting(c, "lr_decay"), setting(c, "weight_decay"),
                                    setting(c, "initial_accumulator_value"), setting(c, "eps"));
  } else {
    throw py::value_error("kind: expected 'sgd', 'adam', 'adamw', 'rmsprop' or 'adagrad', got '" + kind + "'");
  }
  return s;
}

std::unique_ptr<Optimizer> make_optimizer(const Network& net, const OptimizerSettings& settings, bool decay_bias) {
  const double copies = static_cast<double>(state_slots(settings).size());
  require_memory(net.backend(), "network", 4.0 * copies * static_cast<double>(net.param_count()),
                 "the optimizer's state");
  auto opt = std::make_unique<Optimizer>(settings, net.param_count(), net.backend());
  if (!decay_bias) opt->set_decay_exempt(net.bias_ranges());
  return opt;
}

std::unique_ptr<Optimizer> make_from_config(const Network& net, const py::handle& kind_obj, const py::handle& config_obj,
                                            const py::handle& decay_bias) {
  const std::string kind = str_arg("kind", kind_obj);
  if (!py::isinstance<py::dict>(config_obj)) throw py::type_error("config: expected a dict, got " + type_name(config_obj));
  const OptimizerSettings s = settings_from(kind, py::reinterpret_borrow<py::dict>(config_obj));
  return make_optimizer(net, s, bool_arg("decay_bias", decay_bias));
}

std::unique_ptr<Optimizer> make_sgd(const Network& net, const py::handle& lr, const py::handle& momentum,
                                    const py::handle& dampening, const py::handle& weight_decay,
                                    const py::handle& nesterov, const py::handle& decay_bias) {
  OptimizerSettings s;
  s.sgd = make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
  return make_optimizer(net, s, bool_arg("decay_bias", decay_bias));
}

std::vector<int> slots_of(const Optimizer& opt) { return state_slots(opt.settings()); }

// {name: [(W, b), ...]} of every state buffer, and the step count: what a file keeps.
py::tuple get_state(const Optimizer& opt, const Network& net) {
  require_same_size("network", opt.size(), net.param_count());
  Use use(&opt, false, "optimizer state");
  py::dict state;
  for (int slot : slots_of(opt)) state[opt.state_name(slot)] = pairs_from_flat(net, opt.state(slot));
  return py::make_tuple(state, opt.steps());
}

// The names a state dict must hold, checked against what came.
void require_names(const Optimizer& opt, const py::dict& state, const char* name) {
  std::vector<std::string> want, got;
  for (int slot : slots_of(opt)) want.emplace_back(opt.state_name(slot));
  for (const auto& item : state) got.push_back(py::str(item.first).cast<std::string>());
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  if (want != got) {
    auto join = [](const std::vector<std::string>& v) {
      std::string s = "[";
      for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", '" : "'") + v[i] + "'";
      return s + "]";
    };
    throw py::value_error(std::string(name) + ": expected the buffers " + join(want) + " of a '" +
                          kind_name(opt.settings()) + "' optimizer, got " + join(got));
  }
}

void set_state(Optimizer& opt, const Network& net, const py::handle& state_obj, const py::handle& steps_obj) {
  require_same_size("network", opt.size(), net.param_count());
  const auto steps = static_cast<std::size_t>(int_arg("steps", steps_obj, 0, (1LL << 62)));
  if (!py::isinstance<py::dict>(state_obj)) throw py::type_error("state: expected a dict, got " + type_name(state_obj));
  const py::dict state = py::reinterpret_borrow<py::dict>(state_obj);
  require_names(opt, state, "state");
  std::vector<std::pair<int, std::vector<std::pair<FloatArray, FloatArray>>>> checked;
  for (int slot : slots_of(opt)) {
    const std::string where = std::string("state['") + opt.state_name(slot) + "']";
    checked.emplace_back(slot, check_pairs(net, where.c_str(), state[opt.state_name(slot)], PairWording::per_pair));
  }
  Use use(&opt, true, "optimizer state");
  opt.reset_state();  // the padding between layers gets the first value
  for (auto& [slot, pairs] : checked) flat_from_pairs(net, pairs, opt.state(slot));
  opt.parameters_changed();
  opt.set_steps(steps);
}

// {name: flat buffer} and the step count, for cheap snapshots within one process.
py::tuple get_flat_state(const Optimizer& opt) {
  Use use(&opt, false, "optimizer state");
  py::dict state;
  for (int slot : slots_of(opt)) state[opt.state_name(slot)] = flat_array(opt.state(slot), opt.size());
  return py::make_tuple(state, opt.steps());
}

void set_flat_state(Optimizer& opt, const py::handle& state_obj, const py::handle& steps_obj) {
  const auto steps = static_cast<std::size_t>(int_arg("steps", steps_obj, 0, (1LL << 62)));
  if (!py::isinstance<py::dict>(state_obj)) throw py::type_error("state: expected a dict, got " + type_name(state_obj));
  const py::dict state = py::reinterpret_borrow<py::dict>(state_obj);
  require_names(opt, state, "state");
  std::vector<std::pair<int, FloatArray>> checked;
  for (int slot : slots_of(opt)) {
    const std::string where = std::string("state['") + opt.state_name(slot) + "']";
    FloatArray v = flat_arg(where.c_str(), state[opt.state_name(slot)], opt.size());
    require_finite(where.c_str(), v);
    checked.emplace_back(slot, v);
  }
  Use use(&opt, true, "optimizer state");
  {
    NativeSection native;
    for (auto& [slot, v] : checked) opt.state(slot).upload(v.data(), opt.size());
  }
  opt.parameters_changed();
  opt.set_steps(steps);
}

bool state_finite(const Optimizer& opt) {
  Use use(&opt, false, "optimizer state");
  for (int slot : slots_of(opt)) {
    const FloatArray v = flat_array(opt.state(slot), opt.size());
    if (!all_finite(v.data(), opt.size())) return false;
  }
  return true;
}

void optimizer_to(Optimizer& opt, const py::handle& device_obj) {
  const Backend& backend = parse_device(device_obj);
  require_memory(backend, "device", 4.0 * opt.state_count() * static_cast<double>(opt.size()),
                 "the optimizer's state");
  Use use(&opt, true, "to");
  NativeSection native;
  opt.to(backend);
}

// One update from the given gradients, applied only if it and its results are
// finite (the trainer's per-step rule, exposed for tests). Returns whether it was.
bool step_if_finite(Optimizer& opt, Network& net, const py::handle& grads_obj) {
  require_same_size("network", opt.size(), net.param_count());
  if (&opt.backend() != &net.backend()) throw py::value_error("network: on another device than the optimizer");
  FloatArray g = flat_arg("grads", grads_obj, opt.size());
  Use use_net(&net, true, "step_if_finite");
  Use use_opt(&opt, true, "optimizer state");
  const float* host = g.data();
  NativeSection native;
  const Backend& backend = net.backend();
  backend.upload(net.grads(), host, opt.size() * sizeof(float));
  DeviceBuffer<Verdict> verdict(backend, 1);
  opt.parameters_changed();  // the weights may have been set since the last step
  const std::size_t steps = opt.steps();
  opt.update(net.params(), net.grads(), verdict.data(), verdict_code(0, Divergence::update));
  Verdict v = 0;
  verdict.download(&v, 1);
  opt.set_steps(v == 0 ? steps + 1 : steps);
  return v == 0;
}

void set_lr(Optimizer& opt, const py::handle& lr_obj) {
  const float lr = float_arg("lr", lr_obj);
  OptimizerSettings s;
  try {
    s = opt.settings().with_lr(lr);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
  Use use(&opt, true, "set_lr");
  opt.set_settings(s);
}

}  // namespace

void bind_optimizer_state(py::module_& m) {
  py::class_<Optimizer>(m, "Optimizer", "An optimizer of any kind for one network, on the network's device.")
      .def(py::init(&make_from_config), py::arg("network"), py::arg("kind"), py::arg("config"),
           py::arg("decay_bias") = true)
      .def_property_readonly("kind", [](const Optimizer& o) { return std::string(kind_name(o.settings())); })
      .def_property_readonly("state_names", [](const Optimizer& o) {
        std::vector<std::string> names;
        for (int slot : slots_of(o)) names.emplace_back(o.state_name(slot));
        return names;
      })
      .def_property_readonly("lr", [](const Optimizer& o) { return o.settings().lr(); })
      .def("set_lr", &set_lr, py::arg("lr"))
      .def("get_state", &get_state, py::arg("network"))
      .def("set_state", &set_state, py::arg("network"), py::arg("state"), py::arg("steps"))
      .def("get_flat_state", &get_flat_state)
      .def("set_flat_state", &set_flat_state, py::arg("state"), py::arg("steps"))
      .def("step_if_finite", &step_if_finite, py::arg("network"), py::arg("grads"))
      .def("state_finite", &state_finite)
      .def_property_readonly("device", [](const Optimizer& o) { return std::string(device_name(o.backend().device)); })
      .def("to", &optimizer_to, py::arg("device"), "Moves the state to the device's memory.")
      .def_property_readonly("size", &Optimizer::size)
      .def_property_readonly("steps", &Optimizer::steps);
  m.def("Sgd", &make_sgd, py::arg("network"), py::arg("lr"), py::arg("momentum") = 0.0f, py::arg("dampening") = 0.0f,
        py::arg("weight_decay") = 0.0f, py::arg("nesterov") = false, py::arg("decay_bias") = true,
        "An SGD Optimizer (torch.optim.SGD's settings).");
}

}  // namespace mlpcore::bindings
