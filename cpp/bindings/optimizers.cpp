// mlpcore._core's optimizer updates on numpy arrays, in place (adam_step,
// rmsprop_step, adagrad_step: for tests, benchmarks and mlpcore.ops), and the
// checks of the optimizer settings (check_adam, check_rmsprop, check_adagrad:
// for the Python optimizer classes, so a bad value fails at construction).
#include "optimizers.h"

#include <pybind11/numpy.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "busy.h"
#include "mlpcore/optimizer_kernels.h"

namespace mlpcore::bindings {

SgdConfig make_sgd_config(const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                          const py::handle& weight_decay, const py::handle& nesterov) {
  SgdConfig c{float_arg("lr", lr), float_arg("momentum", momentum), float_arg("dampening", dampening),
              float_arg("weight_decay", weight_decay), bool_arg("nesterov", nesterov)};
  validate(c);
  return c;
}

AdamConfig make_adam_config(const py::handle& lr, const py::handle& betas, const py::handle& eps,
                            const py::handle& weight_decay, const py::handle& amsgrad, const py::handle& decoupled) {
  if (!py::isinstance<py::tuple>(betas) && !py::isinstance<py::list>(betas)) {
    throw py::type_error("betas: expected a pair of numbers (beta1, beta2), got " + type_name(betas) + " " +
                         repr_short(betas));
  }
  const py::list b = list_arg("betas", betas);
  if (b.size() != 2) {
    throw py::value_error("betas: expected a pair of numbers (beta1, beta2), got " + std::to_string(b.size()) +
                          " values");
  }
  AdamConfig c;
  c.lr = real_arg("lr", lr);
  c.beta1 = real_arg("betas[0]", b[0]);
  c.beta2 = real_arg("betas[1]", b[1]);
  c.eps = real_arg("eps", eps);
  c.weight_decay = real_arg("weight_decay", weight_decay);
  c.amsgrad = bool_arg("amsgrad", amsgrad);
  c.decoupled = bool_arg("decoupled", decoupled);
  validate(c);
  return c;
}

RmspropConfig make_rmsprop_config(const py::handle& lr, const py::handle& alpha, const py::handle& eps,
                                  const py::handle& weight_decay, const py::handle& momentum,
                                  const py::handle& centered) {
  RmspropConfig c;
  c.lr = real_arg("lr", lr);
  c.alpha = real_arg("alpha", alpha);
  c.eps = real_arg("eps", eps);
  c.weight_decay = real_arg("weight_decay", weight_decay);
  c.momentum = real_arg("momentum", momentum);
  c.centered = bool_arg("centered", centered);
  validate(c);
  return c;
}

AdagradConfig make_adagrad_config(const py::handle& lr, const py::handle& lr_decay, const py::handle& weight_decay,
                                  const py::handle& initial_accumulator_value, const py::handle& eps) {
  AdagradConfig c;
  c.lr = real_arg("lr", lr);
  c.lr_decay = real_arg("lr_decay", lr_decay);
  c.weight_decay = real_arg("weight_decay", weight_decay);
  c.initial_accumulator_value = real_arg("initial_accumulator_value", initial_accumulator_value);
  c.eps = real_arg("eps", eps);
  validate(c);
  return c;
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

// An optional state buffer against its option: given exactly when the option is on.
void require_state(const char* name, bool given, bool on, const char* option) {
  if (on && !given) throw py::value_error(std::string(name) + ": required when " + option);
  if (!on && given) throw py::value_error(std::string(name) + ": expected None unless " + option);
}

void adam_step_py(const py::handle& param, const py::handle& grad, const py::handle& exp_avg,
                  const py::handle& exp_avg_sq, const py::handle& max_exp_avg_sq, const py::handle& lr,
                  const py::handle& betas, const py::handle& eps, const py::handle& weight_decay,
                  const py::handle& amsgrad, const py::handle& decoupled, const py::handle& step) {
  const AdamConfig c = make_adam_config(lr, betas, eps, weight_decay, amsgrad, decoupled);
  const AdamStep s = adam_step_scalars(c, step_arg(step));
  require_state("max_exp_avg_sq", !max_exp_avg_sq.is_none(), c.amsgrad, "amsgrad is True");
  UpdateArrays a(param, grad);
  float* m = a.state("exp_avg", exp_avg);
  float* v = a.state("exp_avg_sq", exp_avg_sq);
  float* vmax = a.optional_state("max_exp_avg_sq", max_exp_avg_sq);
  NativeSection native;
  adam_step(a.size(), a.param(), a.grad(), m, v, vmax, s);
}

void rmsprop_step_py(const py::handle& param, const py::handle& grad, const py::handle& square_avg,
                     const py::handle& grad_avg, const py::handle& momentum_buffer, const py::handle& lr,
                     const py::handle& alpha, const py::handle& eps, const py::handle& weight_decay,
                     const py::handle& momentum, const py::handle& centered) {
  const RmspropConfig c = make_rmsprop_config(lr, alpha, eps, weight_decay, momentum, centered);
  const RmspropStep s = rmsprop_step_scalars(c);
  require_state("grad_avg", !grad_avg.is_none(), c.centered, "centered is True");
  require_state("momentum_buffer", !momentum_buffer.is_none(), c.momentum > 0.0, "momentum > 0");
  UpdateArrays a(param, grad);
  float* sq = a.state("square_avg", square_avg);
  float* ga = a.optional_state("grad_avg", grad_avg);
  float* buf = a.optional_state("momentum_buffer", momentum_buffer);
  NativeSection native;
  rmsprop_step(a.size(), a.param(), a.grad(), sq, ga, buf, s);
}

void adagrad_step_py(const py::handle& param, const py::handle& grad, const py::handle& state_sum,
                     const py::handle& lr, const py::handle& lr_decay, const py::handle& weight_decay,
                     const py::handle& eps, const py::handle& step) {
  // The initial accumulator value only fills state_sum before the first step: 0 here passes its check.
  const AdagradConfig c = make_adagrad_config(lr, lr_decay, weight_decay, py::float_(0.0), eps);
  const AdagradStep s = adagrad_step_scalars(c, step_arg(step));
  UpdateArrays a(param, grad);
  float* sum = a.state("state_sum", state_sum);
  NativeSection native;
  adagrad_step(a.size(), a.param(), a.grad(), sum, s);
}

}  // namespace

void bind_optimizers(py::module_& m) {
  m.def("check_sgd", [](const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                        const py::handle& weight_decay, const py::handle& nesterov) {
    make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
  }, py::arg("lr"), py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"),
        "Raises what Sgd(...) would for these settings: types and ranges are checked in one place.");

  m.def("check_adam", [](const py::handle& lr, const py::handle& betas, const py::handle& eps,
                         const py::handle& weight_decay, const py::handle& amsgrad, const py::handle& decoupled) {
    make_adam_config(lr, betas, eps, weight_decay, amsgrad, decoupled);
  }, py::arg("lr"), py::arg("betas"), py::arg("eps"), py::arg("weight_decay"), py::arg("amsgrad"),
        py::arg("decoupled"),
        "Raises what an Adam or AdamW update would for these settings: types and ranges are checked in one place.");
  m.def("check_rmsprop", [](const py::handle& lr, const py::handle& alpha, const py::handle& eps,
                            const py::handle& weight_decay, const py::handle& momentum, const py::handle& centered) {
    make_rmsprop_config(lr, alpha, eps, weight_decay, momentum, centered);
  }, py::arg("lr"), py::arg("alpha"), py::arg("eps"), py::arg("weight_decay"), py::arg("momentum"),
        py::arg("centered"), "Raises what an RMSprop update would for these settings.");
  m.def("check_adagrad", [](const py::handle& lr, const py::handle& lr_decay, const py::handle& weight_decay,
                            const py::handle& initial_accumulator_value, const py::handle& eps) {
    make_adagrad_config(lr, lr_decay, weight_decay, initial_accumulator_value, eps);
  }, py::arg("lr"), py::arg("lr_decay"), py::arg("weight_decay"), py::arg("initial_accumulator_value"),
        py::arg("eps"), "Raises what an Adagrad optimizer would for these settings.");

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
