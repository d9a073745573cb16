// mlpcore._core's optimizer updates on numpy arrays, in place (adam_step,
// rmsprop_step, adagrad_step: for tests, benchmarks and mlpcore.ops), and the
// checks of the optimizer settings (check_adam, check_rmsprop, check_adagrad:
// for the Python optimizer classes, so a bad value fails at construction).
#include "optimizers.h"

#include <pybind11/numpy.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "busy.h"
#include "mlpcore/optimizer_kernels.h"

namespace mlpcore::bindings {

namespace {

// One setting of a kind's config: its Python name and the member it fills. A
// kind's table below is the one list of its settings, in argument order; the
// member's type says how the value is read.
template <class Config>
struct Setting {
  const char* name;
  std::variant<float Config::*, double Config::*, bool Config::*> member;
};

void read_setting(float& out, const char* name, const py::handle& obj) { out = float_arg(name, obj); }
void read_setting(double& out, const char* name, const py::handle& obj) { out = real_arg(name, obj); }
void read_setting(bool& out, const char* name, const py::handle& obj) { out = bool_arg(name, obj); }

// The config of objs (one per setting, in the table's order), each read in turn, then validated.
template <class Config, std::size_t N>
Config read_config(const Setting<Config> (&settings)[N], const std::array<py::handle, N>& objs) {
  Config c;
  for (std::size_t i = 0; i < N; ++i) {
    std::visit([&](auto member) { read_setting(c.*member, settings[i].name, objs[i]); }, settings[i].member);
  }
  validate(c);
  return c;
}

const Setting<SgdConfig> kSgdSettings[] = {
    {"lr", &SgdConfig::lr},
    {"momentum", &SgdConfig::momentum},
    {"dampening", &SgdConfig::dampening},
    {"weight_decay", &SgdConfig::weight_decay},
    {"nesterov", &SgdConfig::nesterov},
};
// betas comes as a pair: its two values are read as betas[0] and betas[1].
const Setting<AdamConfig> kAdamSettings[] = {
    {"lr", &AdamConfig::lr},
    {"betas[0]", &AdamConfig::beta1},
    {"betas[1]", &AdamConfig::beta2},
    {"eps", &AdamConfig::eps},
    {"weight_decay", &AdamConfig::weight_decay},
    {"amsgrad", &AdamConfig::amsgrad},
    {"decoupled", &AdamConfig::decoupled},
};
const Setting<RmspropConfig> kRmspropSettings[] = {
    {"lr", &RmspropConfig::lr},
    {"alpha", &RmspropConfig::alpha},
    {"eps", &RmspropConfig::eps},
    {"weight_decay", &RmspropConfig::weight_decay},
    {"momentum", &RmspropConfig::momentum},
    {"centered", &RmspropConfig::centered},
};
const Setting<AdagradConfig> kAdagradSettings[] = {
    {"lr", &AdagradConfig::lr},
    {"lr_decay", &AdagradConfig::lr_decay},
    {"weight_decay", &AdagradConfig::weight_decay},
    {"initial_accumulator_value", &AdagradConfig::initial_accumulator_value},
    {"eps", &AdagradConfig::eps},
};

}  // namespace

SgdConfig make_sgd_config(const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                          const py::handle& weight_decay, const py::handle& nesterov) {
  return read_config(kSgdSettings, {lr, momentum, dampening, weight_decay, nesterov});
}

AdamConfig make_adam_config(const py::handle& lr, const py::handle& betas, const py::handle& eps,
                            const py::handle& weight_decay, const py::handle& amsgrad, const py::handle& decoupled) {
  // The pair's shape is checked before any setting is read.
  if (!py::isinstance<py::tuple>(betas) && !py::isinstance<py::list>(betas)) {
    throw py::type_error("betas: expected a pair of numbers (beta1, beta2), got " + type_name(betas) + " " +
                         repr_short(betas));
  }
  const py::list b = list_arg("betas", betas);
  if (b.size() != 2) {
    throw py::value_error("betas: expected a pair of numbers (beta1, beta2), got " + std::to_string(b.size()) +
                          " values");
  }
  return read_config(kAdamSettings, {lr, b[0], b[1], eps, weight_decay, amsgrad, decoupled});
}

RmspropConfig make_rmsprop_config(const py::handle& lr, const py::handle& alpha, const py::handle& eps,
                                  const py::handle& weight_decay, const py::handle& momentum,
                                  const py::handle& centered) {
  return read_config(kRmspropSettings, {lr, alpha, eps, weight_decay, momentum, centered});
}

AdagradConfig make_adagrad_config(const py::handle& lr, const py::handle& lr_decay, const py::handle& weight_decay,
                                  const py::handle& initial_accumulator_value, const py::handle& eps) {
  return read_config(kAdagradSettings, {lr, lr_decay, weight_decay, initial_accumulator_value, eps});
}

namespace {

// The count of an update: 1 for the first; at most 2^53, where a double still counts exactly.
std::uint64_t step_arg(const py::handle& obj) {
  return static_cast<std::uint64_t>(int_arg("step", obj, 1, 1LL << 53));
}

// The arrays of one update: the parameters and state buffers (written in place,
// so they must already be float32, 1-d, C-contiguous and writeable: a converted
// copy would silently take the update) and the gradient (read; converted once
// when it is not float32). Checked for shape and for overlap, which would make
// the update read its own output.
class UpdateArrays {
 public:
  UpdateArrays(const py::handle& param, const py::handle& grad) {
    param_ = inplace("param", param);
    grad_ = as_floats("grad", grad, 1);
    check_shape("grad", grad_);
    note("grad", grad_);
  }
  std::size_t size() const { return n_; }
  float* param() const { return param_; }
  const float* grad() const { return grad_.data(); }
  float* state(const char* name, const py::handle& obj) { return inplace(name, obj); }
  // Null for None (an option that is off).
  float* optional_state(const char* name, const py::handle& obj) {
    return obj.is_none() ? nullptr : inplace(name, obj);
  }

 private:
  struct Span {
    const char* name;
    const char* begin;
    const char* end;
  };
  std::size_t n_ = 0;
  float* param_ = nullptr;
  FloatArray grad_;
  std::vector<py::array> held_;  // the in-place arrays, alive while the update runs
  std::vector<Span> spans_;

  void check_shape(const char* name, const py::array& a) const {
    if (static_cast<std::size_t>(a.shape(0)) != n_) {
      throw py::value_error(std::string(name) + ": expected shape (" + std::to_string(n_) +
                            ",), the shape of param, got " + shape_str(a));
    }
  }

  void note(const char* name, const py::array& a) {
    const char* begin = static_cast<const char*>(a.data());
    const char* end = begin + a.nbytes();
    for (const Span& s : spans_) {
      if (begin < s.end && s.begin < end) {
        throw py::value_error(std::string(name) + ": shares memory with " + s.name +
                              "; every array of an update must be its own buffer");
      }
    }
    spans_.push_back({name, begin, end});
  }

  float* inplace(const char* name, const py::handle& obj) {
    if (!py::isinstance<py::array>(obj)) {
      throw py::type_error(std::string(name) + ": expected a float32 numpy array (updated in place), got " +
                           type_name(obj));
    }
    py::array a = py::reinterpret_borrow<py::array>(obj);
    if (!a.dtype().is(py::dtype::of<float>())) {
      throw py::type_error(std::string(name) + ": expected dtype float32 (the array is updated in place, so it is "
                           "never converted), got " + dtype_str(a));
    }
    if (a.ndim() != 1) throw py::value_error(std::string(name) + ": expected a 1-d array, got shape " + shape_str(a));
    if (!(a.flags() & py::array::c_style)) {
      throw py::value_error(std::string(name) + ": expected a contiguous array (updated in place), got a strided view");
    }
    if (!a.writeable()) throw py::value_error(std::string(name) + ": expected a writeable array, got a read-only one");
    if (held_.empty()) {
      n_ = static_cast<std::size_t>(a.shape(0));
    } else {
      check_shape(name, a);
    }
    note(name, a);
    held_.push_back(a);
    return static_cast<float*>(a.mutable_data());
  }
};

// A state buffer of an update: required (no option), or optional: given exactly
// when its option is on, None otherwise.
struct StateArg {
  const char* name;
  py::handle obj;
  const char* option = nullptr;  // how the message says the option is on, e.g. "amsgrad is True"
  bool on = true;
};

// Checks the arrays of an update (the optional buffers against their options,
// then param, grad and the buffers in order) and runs
// update(n, param, grad, buffers) as native work; an absent buffer is null.
template <std::size_t N, class Update>
void run_update(const py::handle& param, const py::handle& grad, const StateArg (&states)[N], const Update& update) {
  for (const StateArg& s : states) {
    if (s.option == nullptr) continue;
    const bool given = !s.obj.is_none();
    if (s.on && !given) throw py::value_error(std::string(s.name) + ": required when " + s.option);
    if (!s.on && given) throw py::value_error(std::string(s.name) + ": expected None unless " + s.option);
  }
  UpdateArrays a(param, grad);
  std::array<float*, N> buffers{};
  for (std::size_t i = 0; i < N; ++i) {
    const StateArg& s = states[i];
    buffers[i] = s.option == nullptr ? a.state(s.name, s.obj) : a.optional_state(s.name, s.obj);
  }
  NativeSection native;
  update(a.size(), a.param(), a.grad(), buffers);
}

void adam_step_py(const py::handle& param, const py::handle& grad, const py::handle& exp_avg,
                  const py::handle& exp_avg_sq, const py::handle& max_exp_avg_sq, const py::handle& lr,
                  const py::handle& betas, const py::handle& eps, const py::handle& weight_decay,
                  const py::handle& amsgrad, const py::handle& decoupled, const py::handle& step) {
  const AdamConfig c = make_adam_config(lr, betas, eps, weight_decay, amsgrad, decoupled);
  const AdamStep s = adam_step_scalars(c, step_arg(step));
  run_update(param, grad,
             {{"exp_avg", exp_avg}, {"exp_avg_sq", exp_avg_sq},
              {"max_exp_avg_sq", max_exp_avg_sq, "amsgrad is True", c.amsgrad}},
             [&](std::size_t n, float* p, const float* g, const std::array<float*, 3>& b) {
               adam_step(n, p, g, b[0], b[1], b[2], s);
             });
}

void rmsprop_step_py(const py::handle& param, const py::handle& grad, const py::handle& square_avg,
                     const py::handle& grad_avg, const py::handle& momentum_buffer, const py::handle& lr,
                     const py::handle& alpha, const py::handle& eps, const py::handle& weight_decay,
                     const py::handle& momentum, const py::handle& centered) {
  const RmspropConfig c = make_rmsprop_config(lr, alpha, eps, weight_decay, momentum, centered);
  const RmspropStep s = rmsprop_step_scalars(c);
  run_update(param, grad,
             {{"square_avg", square_avg}, {"grad_avg", grad_avg, "centered is True", c.centered},
              {"momentum_buffer", momentum_buffer, "momentum > 0", c.momentum > 0.0}},
             [&](std::size_t n, float* p, const float* g, const std::array<float*, 3>& b) {
               rmsprop_step(n, p, g, b[0], b[1], b[2], s);
             });
}

void adagrad_step_py(const py::handle& param, const py::handle& grad, const py::handle& state_sum,
                     const py::handle& lr, const py::handle& lr_decay, const py::handle& weight_decay,
                     const py::handle& eps, const py::handle& step) {
  // The initial accumulator value only fills state_sum before the first step: 0 here passes its check.
  const AdagradConfig c = make_adagrad_config(lr, lr_decay, weight_decay, py::float_(0.0), eps);
  const AdagradStep s = adagrad_step_scalars(c, step_arg(step));
  run_update(param, grad, {{"state_sum", state_sum}},
             [&](std::size_t n, float* p, const float* g, const std::array<float*, 1>& b) {
               adagrad_step(n, p, g, b[0], s);
             });
}

// check_<kind>: the checks of make_<kind>_config, the config discarded.
template <auto Make>
struct Check;
template <class Config, class... Args, Config (*Make)(Args...)>
struct Check<Make> {
  static void call(Args... args) { Make(args...); }
};

}  // namespace

void bind_optimizers(py::module_& m) {
  m.def("check_sgd", &Check<&make_sgd_config>::call, py::arg("lr"), py::arg("momentum"), py::arg("dampening"),
        py::arg("weight_decay"), py::arg("nesterov"),
        "Raises what Sgd(...) would for these settings: types and ranges are checked in one place.");
  m.def("check_adam", &Check<&make_adam_config>::call, py::arg("lr"), py::arg("betas"), py::arg("eps"),
        py::arg("weight_decay"), py::arg("amsgrad"), py::arg("decoupled"),
        "Raises what an Adam or AdamW update would for these settings: types and ranges are checked in one place.");
  m.def("check_rmsprop", &Check<&make_rmsprop_config>::call, py::arg("lr"), py::arg("alpha"), py::arg("eps"),
        py::arg("weight_decay"), py::arg("momentum"), py::arg("centered"),
        "Raises what an RMSprop update would for these settings.");
  m.def("check_adagrad", &Check<&make_adagrad_config>::call, py::arg("lr"), py::arg("lr_decay"),
        py::arg("weight_decay"), py::arg("initial_accumulator_value"), py::arg("eps"),
        "Raises what an Adagrad optimizer would for these settings.");

  m.def("adam_step", &adam_step_py, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
        py::arg("max_exp_avg_sq"), py::kw_only(), py::arg("lr"), py::arg("betas"), py::arg("eps"),
        py::arg("weight_decay"), py::arg("amsgrad"), py::arg("decoupled"), py::arg("step"),
        "One torch.optim.Adam (AdamW: decoupled=True) update, in place on float32 arrays; step counts from 1.");
  m.def("rmsprop_step", &rmsprop_step_py, py::arg("param"), py::arg("grad"), py::arg("square_avg"),
        py::arg("grad_avg"), py::arg("momentum_buffer"), py::kw_only(), py::arg("lr"), py::arg("alpha"),
        py::arg("eps"), py::arg("weight_decay"), py::arg("momentum"), py::arg("centered"),
        "One torch.optim.RMSprop update, in place on float32 arrays.");
  m.def("adagrad_step", &adagrad_step_py, py::arg("param"), py::arg("grad"), py::arg("state_sum"), py::kw_only(),
        py::arg("lr"), py::arg("lr_decay"), py::arg("weight_decay"), py::arg("eps"), py::arg("step"),
        "One torch.optim.Adagrad update, in place on float32 arrays; step counts from 1.");
}

}  // namespace mlpcore::bindings
