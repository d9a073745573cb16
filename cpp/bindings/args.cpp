// Argument conversion and checks (see args.h).
#include "args.h"

#include <cmath>
#include <cstdio>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "busy.h"
#include "mlpcore/elementwise.h"

namespace mlpcore::bindings {

namespace {

bool is_bool(const py::handle& obj) {
  return PyBool_Check(obj.ptr()) || py::isinstance(obj, py::module_::import("numpy").attr("bool_"));
}

}  // namespace

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

std::string type_name(const py::handle& obj) {
  return py::str(py::type::of(obj).attr("__name__")).cast<std::string>();
}

std::string repr_short(const py::handle& obj) {
  std::string r = py::repr(obj).cast<std::string>();
  return r.size() > 60 ? r.substr(0, 57) + "..." : r;
}

// ---------------------------------------------------------------- scalar arguments
// Every scalar a user can pass is taken as a Python object and checked here, so a
// wrong type names the argument instead of printing pybind11's overload list.

// An integer (Python int or numpy integer, never bool) in [lo, hi].
long long int_arg(const char* name, const py::handle& obj, long long lo, long long hi) {
  if (is_bool(obj) || !PyIndex_Check(obj.ptr())) {
    throw py::type_error(std::string(name) + ": expected an integer, got " + type_name(obj) + " " +
                         repr_short(obj));
  }
  py::int_ value = py::reinterpret_steal<py::int_>(PyNumber_Index(obj.ptr()));
  if (!value) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (overflow != 0 || v < lo || v > hi) {
    throw py::value_error(std::string(name) + ": expected an integer in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "], got " + repr_short(value));
  }
  return v;
}

// A seed or epoch counter: any integer in [0, 2^64).
std::uint64_t u64_arg(const char* name, const py::handle& obj) {
  if (is_bool(obj) || !PyIndex_Check(obj.ptr())) {
    throw py::type_error(std::string(name) + ": expected an integer >= 0, got " + type_name(obj) + " " +
                         repr_short(obj));
  }
  py::int_ value = py::reinterpret_steal<py::int_>(PyNumber_Index(obj.ptr()));
  if (!value) throw py::error_already_set();
  const unsigned long long v = PyLong_AsUnsignedLongLong(value.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error(std::string(name) + ": expected an integer in [0, 2**64), got " + repr_short(value));
  }
  return v;
}

double real_arg(const char* name, const py::handle& obj) {
  if (is_bool(obj) || !(PyFloat_Check(obj.ptr()) || PyIndex_Check(obj.ptr()) ||
                        py::isinstance(obj, py::module_::import("numpy").attr("floating")))) {
    throw py::type_error(std::string(name) + ": expected a real number, got " + type_name(obj) + " " +
                         repr_short(obj));
  }
  const double d = PyFloat_AsDouble(obj.ptr());
  if (d == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error(std::string(name) + ": expected a real number within float range, got " +
                          repr_short(obj));
  }
  return d;
}

// A finite real number (Python or numpy int/float, never bool).
float float_arg(const char* name, const py::handle& obj) {
  const double d = real_arg(name, obj);
  const float f = static_cast<float>(d);  // rounds to nearest: a value just past FLT_MAX becomes inf
  if (!std::isfinite(f)) {
    throw py::value_error(std::string(name) + ": expected a finite float32 number (|x| <= 3.4028235e38), got " +
                          repr_short(obj));
  }
  if (d != 0.0 && f == 0.0f) {  // underflows: the value would silently become 0
    throw py::value_error(std::string(name) + ": expected a number float32 can hold (0, or a magnitude >= 1.4e-45), got " +
                          repr_short(obj));
  }
  return f;
}

bool bool_arg(const char* name, const py::handle& obj) {
  if (!is_bool(obj)) {
    throw py::type_error(std::string(name) + ": expected a bool, got " + type_name(obj) + " " + repr_short(obj));
  }
  return obj.cast<bool>();
}

std::string str_arg(const char* name, const py::handle& obj) {
  if (!py::isinstance<py::str>(obj)) {
    throw py::type_error(std::string(name) + ": expected a string, got " + type_name(obj) + " " +
                         repr_short(obj));
  }
  return obj.cast<std::string>();
}

py::list list_arg(const char* name, const py::handle& obj) {
  if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj)) {
    throw py::type_error(std::string(name) + ": expected a list, got " + type_name(obj) + " " + repr_short(obj));
  }
  return py::reinterpret_steal<py::list>(PySequence_List(obj.ptr()));
}

Activation parse_activation(const py::handle& obj) {
  const std::string name = str_arg("activation", obj);
  if (name == "identity" || name == "linear") return Activation::identity;
  if (name == "relu") return Activation::relu;
  if (name == "sigmoid" || name == "logistic") return Activation::sigmoid;
  if (name == "tanh") return Activation::tanh;
  throw py::value_error("activation: expected one of 'identity', 'relu', 'sigmoid', 'tanh', got '" +
                        name + "'");
}

LossKind parse_loss(const py::handle& obj) {
  const std::string name = str_arg("loss", obj);
  if (name == "mse") return LossKind::mse;
  if (name == "cross_entropy") return LossKind::cross_entropy;
  if (name == "binary_cross_entropy") return LossKind::binary_cross_entropy;
  if (name == "poisson") return LossKind::poisson;
  throw py::value_error("loss: expected one of 'mse', 'cross_entropy', 'binary_cross_entropy', 'poisson', got '" +
                        name + "'");
}

Init parse_init(const py::handle& obj) {
  const std::string name = str_arg("init", obj);
  if (name == "uniform") return Init::uniform_fan_in;
  if (name == "glorot_uniform") return Init::glorot_uniform;
  if (name == "he_uniform") return Init::he_uniform;
  throw py::value_error("init: expected one of 'uniform', 'glorot_uniform', 'he_uniform', got '" +
                        name + "'");
}

std::optional<LossKind> parse_transform(const py::handle& obj) {
  if (py::isinstance<py::str>(obj) && obj.cast<std::string>() == "none") return std::nullopt;
  return parse_loss(obj);
}

// ---------------------------------------------------------------- memory
// Sizes are checked against the machine's memory before anything is allocated:
// an absurd layer or batch fails at once instead of swapping or being killed.

[[noreturn]] void throw_memory_error(const std::string& message) {
  PyErr_SetString(PyExc_MemoryError, message.c_str());
  throw py::error_already_set();
}

void require_memory(const Backend& backend, const char* name, double bytes, const std::string& what) {
  const double limit = backend.memory_bytes();
  if (bytes > 1.8e19 || (limit > 0.0 && bytes > limit)) {
    auto gib = [](double b) {
      char text[32];
      std::snprintf(text, sizeof text, "%.4g", b / (1024.0 * 1024.0 * 1024.0));
      return std::string(text);
    };
    throw_memory_error(std::string(name) + ": " + what + " needs " + gib(bytes) + " GiB, more than the " +
                       gib(limit) + " GiB of memory the " + device_name(backend.device) + " has");
  }
}

// Converts `obj` to a C-contiguous float32 array (a copy only when it is not one
// already), after checking it is a real-valued array of the expected rank.
FloatArray as_floats(const char* name, const py::handle& obj, int ndim) {
  py::array arr = py::array::ensure(obj);
  if (!arr) throw py::type_error(std::string(name) + ": expected an array of numbers, got " + type_name(obj));
  const char kind = arr.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
    throw py::type_error(std::string(name) + ": expected a real numeric dtype (float32 preferred), got " +
                         (obj.is_none() ? std::string("None") : "dtype " + dtype_str(arr)));
  }
  if (ndim >= 0 && arr.ndim() != ndim) {
    throw py::value_error(std::string(name) + ": expected a " + std::to_string(ndim) +
                          "-d array, got shape " + shape_str(arr));
  }
  return FloatArray::ensure(arr);
}

FloatArray flat_arg(const char* name, const py::handle& obj, std::size_t n) {
  FloatArray a = as_floats(name, obj, 1);
  if (static_cast<std::size_t>(a.shape(0)) != n) {
    throw py::value_error(std::string(name) + ": expected " + std::to_string(n) + " values, got shape " +
                          shape_str(a));
  }
  return a;
}

// True when no value in [p, p + n) is NaN or infinite. One vectorised pass
// (threaded for large arrays): max_abs is infinite or NaN exactly when some
// value is (a scalar isfinite loop, or numpy's, is several times slower).
bool all_finite(const float* p, std::size_t n) {
  NativeSection native;
  return std::isfinite(max_abs(n, p));
}

void require_finite(const char* name, const FloatArray& a) {
  const float* p = a.data();
  if (all_finite(p, static_cast<std::size_t>(a.size()))) return;  // the index is looked for only on failure
  for (py::ssize_t i = 0, n = a.size(); i < n; ++i) {
    if (!std::isfinite(p[i])) {
      throw py::value_error(std::string(name) + ": expected finite values, found " +
                            (std::isnan(p[i]) ? "NaN" : "inf") + " at flat index " + std::to_string(i));
    }
  }
}

namespace {
// The loss's own rules for its targets (losses.h), worded with the argument's name.
void apply_target_rules(const char* name, LossKind loss, std::size_t rows, std::size_t cols,
                        const CheckedTargets& targets) {
  try {
    check_targets(loss, rows, cols, targets.view());
  } catch (const std::invalid_argument& e) {
    throw py::value_error(std::string(name) + ": " + e.what());
  }
}
}  // namespace

CheckedTargets check_targets(const char* name, const py::handle& obj, LossKind loss,
                             std::size_t rows, std::size_t cols) {
  CheckedTargets out;
  py::array arr = py::array::ensure(obj);
  if (!arr) throw py::type_error(std::string(name) + ": expected an array");
  const char kind = arr.dtype().kind();
  if (arr.ndim() == 1 && loss == LossKind::cross_entropy) {
    if (kind != 'i' && kind != 'u') {
      throw py::type_error(std::string(name) + ": class labels must be integers, got dtype " + dtype_str(arr));
    }
    if (static_cast<std::size_t>(arr.shape(0)) != rows) {
      throw py::value_error(std::string(name) + ": expected " + std::to_string(rows) +
                            " labels (one per row), got " + std::to_string(arr.shape(0)));
    }
    // Labels beyond int32 cannot be converted; the range rule itself is the loss's (check_targets).
    auto bad_label = [&](const std::string& got, std::size_t i) {
      throw py::value_error(std::string(name) + ": labels must be in [0, " + std::to_string(cols) +
                            "), got " + got + " at index " + std::to_string(i));
    };
    if (kind == 'u') {
      py::array as64 = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
      const auto* p = static_cast<const std::uint64_t*>(as64.data());
      for (std::size_t i = 0; i < rows; ++i) {
        if (p[i] > 0x7fffffffu) bad_label(std::to_string(p[i]), i);
      }
    } else {
      py::array as64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
      const auto* p = static_cast<const std::int64_t*>(as64.data());
      for (std::size_t i = 0; i < rows; ++i) {
        if (p[i] < 0 || p[i] > 0x7fffffff) bad_label(std::to_string(p[i]), i);
      }
    }
    out.labels = LabelArray::ensure(arr);
    apply_target_rules(name, loss, rows, cols, out);
    return out;
  }
  FloatArray dense = as_floats(name, arr, 2);
  if (static_cast<std::size_t>(dense.shape(0)) != rows ||
      static_cast<std::size_t>(dense.shape(1)) != cols) {
    throw py::value_error(std::string(name) + ": expected shape (" + std::to_string(rows) + ", " +
                          std::to_string(cols) + "), got " + shape_str(dense) +
                          (loss == LossKind::cross_entropy ? " (or integer labels of shape (rows,))" : ""));
  }
  require_finite(name, dense);
  out.dense = dense;
  apply_target_rules(name, loss, rows, cols, out);
  return out;
}

std::optional<FloatArray> check_weights(const py::object& obj, std::size_t rows) {
  if (obj.is_none()) return std::nullopt;
  FloatArray w = as_floats("sample_weight", obj, 1);
  if (static_cast<std::size_t>(w.shape(0)) != rows) {
    throw py::value_error("sample_weight: expected " + std::to_string(rows) + " weights, got " +
                          std::to_string(w.shape(0)));
  }
  for (py::ssize_t i = 0; i < w.shape(0); ++i) {
    if (!(w.data()[i] >= 0.0f) || !std::isfinite(w.data()[i])) {
      throw py::value_error("sample_weight: expected finite values >= 0, got " +
                            std::to_string(w.data()[i]) + " at index " + std::to_string(i));
    }
  }
  return w;
}

CheckedLossArgs check_loss_args(const py::handle& loss_name, const py::handle& out_obj, const py::handle& t_obj,
                                const py::object& w_obj) {
  const LossKind loss = parse_loss(loss_name);
  FloatArray out = as_floats("output", out_obj, 2);
  const std::size_t rows = out.shape(0), cols = out.shape(1);
  if (rows == 0 || cols == 0) throw py::value_error("output: expected a non-empty array, got shape " + shape_str(out));
  CheckedTargets t = check_targets("target", t_obj, loss, rows, cols);
  std::optional<FloatArray> w = check_weights(w_obj, rows);
  return {loss, std::move(out), rows, cols, std::move(t), std::move(w)};
}

}  // namespace mlpcore::bindings

namespace mlpcore::bindings {

const Backend& parse_device(const py::handle& obj) {
  const std::string name = str_arg("device", obj);
  Device device;
  if (name == "cpu") {
    device = Device::cpu;
  } else if (name == "cuda") {
    device = Device::cuda;
  } else {
    throw py::value_error("device: expected 'cpu' or 'cuda', got '" + name + "'");
  }
  if (!has_backend(device)) {
    throw py::value_error("device: '" + name + "' cannot be used by this build or on this machine "
                          "(mlpcore.config()['cuda'] says why)");
  }
  return backend_for(device);
}

FloatArray check_inputs(const Network& net, const py::handle& obj, const char* name) {
  if (is_sparse(obj)) {
    throw py::type_error(std::string(name) + ": expected a dense array here, got a sparse " + type_name(obj) +
                         "; pass " + name + ".toarray()");
  }
  FloatArray x = as_floats(name, obj, 2);
  if (x.shape(0) == 0) throw py::value_error(std::string(name) + ": expected at least one row, got shape " + shape_str(x));
  if (static_cast<std::size_t>(x.shape(1)) != net.input_dim()) {
    throw py::value_error(std::string(name) + ": expected " + std::to_string(net.input_dim()) +
                          " features per row (the model's input_dim), got shape " + shape_str(x));
  }
  require_finite(name, x);
  return x;
}

CheckedData check_data(const Network& net, LossKind loss, const py::handle& x, const py::handle& y,
                       const py::object& w) {
  CheckedData d;
  if (is_sparse(x)) {
    d.x_csr = check_csr("X", x, net.input_dim());
  } else {
    d.x = check_inputs(net, x, "X");
  }
  d.targets = check_targets("y", y, loss, d.rows(), net.output_dim());
  d.weights = check_weights(w, d.rows());
  return d;
}

}  // namespace mlpcore::bindings
