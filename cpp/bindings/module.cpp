// pybind11 glue for mlpcore._core: numpy arrays in and out, argument checks
// that name the argument, and the GIL released around the numeric work. No
// math lives here. Python objects are only created or destroyed with the GIL
// held; inside a released section only raw pointers are touched.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "mlpcore/dispatch.h"
#include "mlpcore/elementwise.h"
#include "mlpcore/float_env.h"
#include "mlpcore/gemm.h"
#include "mlpcore/gemm_blocking.h"
#include "mlpcore/gradients.h"
#include "mlpcore/losses.h"
#include "mlpcore/network.h"
#include "mlpcore/sgd.h"
#include "mlpcore/step_threads.h"
#include "mlpcore/threads.h"
#include "mlpcore/trainer.h"

#ifdef MLPCORE_HAVE_CUDA
#include "mlpcore/cuda/device.h"
#include "mlpcore/cuda/kernels.h"
#include "mlpcore/cuda/network.h"
#include "mlpcore/cuda/sgd.h"
#include "mlpcore/cuda/trainer.h"
#endif

namespace py = pybind11;
using namespace mlpcore;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using LabelArray = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

// Messages are built with std::string and std::to_string, not iostreams: a
// module whose toolchain links its own libstdc++ statically can crash in an
// ostream's locale facets when the process has loaded another libstdc++.
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

// ---------------------------------------------------------------- native sections

// Native work called from Python: the GIL released and the calling thread's
// floating-point control state set for native compute (subnormals flushed
// unless set_flush_denormal(False); see float_env.h), both undone on exit.
class NativeSection {
 public:
  NativeSection() : fp_(native_float_control()) {}
  // The caller's own control state, for calls back into Python from inside.
  FloatControl caller_control() const { return fp_.saved(); }

 private:
  py::gil_scoped_release gil_;  // released first, taken back last
  FloatControlScope fp_;
};

// ---------------------------------------------------------------- scalar arguments
// Every scalar a user can pass is taken as a Python object and checked here, so a
// wrong type names the argument instead of printing pybind11's overload list.

bool is_bool(const py::handle& obj) {
  return PyBool_Check(obj.ptr()) || py::isinstance(obj, py::module_::import("numpy").attr("bool_"));
}

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

// A finite real number (Python or numpy int/float, never bool).
float float_arg(const char* name, const py::handle& obj) {
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

// ---------------------------------------------------------------- memory
// Sizes are checked against the machine's memory before anything is allocated:
// an absurd layer or batch fails at once instead of swapping or being killed.

double physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return static_cast<double>(pages) * static_cast<double>(page);
#endif
  return 0.0;  // unknown: only overflow is checked
}

[[noreturn]] void throw_memory_error(const std::string& message) {
  PyErr_SetString(PyExc_MemoryError, message.c_str());
  throw py::error_already_set();
}

void require_memory(const char* name, double bytes, const std::string& what) {
  const double limit = physical_memory_bytes();
  if (bytes > 1.8e19 || (limit > 0.0 && bytes > limit)) {
    auto gib = [](double b) {
      char text[32];
      std::snprintf(text, sizeof text, "%.4g", b / (1024.0 * 1024.0 * 1024.0));
      return std::string(text);
    };
    throw_memory_error(std::string(name) + ": " + what + " needs " + gib(bytes) + " GiB, more than this machine's " +
                       gib(limit) + " GiB of memory");
  }
}

// ---------------------------------------------------------------- concurrent use
// Numeric work runs with the GIL released, so Python threads can share a model.
// Reading it (predict, evaluate, get_params) from many threads at once is fine;
// changing it (a training epoch, set_params, optimizer state) needs it alone.
// Each native object has a use count here: > 0 readers, -1 one writer.

class ModelBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Use {
 public:
  Use(const void* object, bool exclusive, const char* what) : object_(object) {
    std::lock_guard<std::mutex> lock(mutex());
    int& count = counts()[object];
    if (exclusive ? count != 0 : count < 0) {
      if (count == 0) counts().erase(object);
      throw ModelBusy(std::string(what) +
                      (exclusive ? ": the model is in use by another thread (fit, predict or evaluate); "
                                   "it can only be trained or changed while nothing else uses it"
                                 : ": the model is being trained or changed by another thread; "
                                   "wait for fit to return"));
    }
    count = exclusive ? -1 : count + 1;
  }
  ~Use() {
    std::lock_guard<std::mutex> lock(mutex());
    auto it = counts().find(object_);
    if (it->second <= 1) {
      counts().erase(it);
    } else {
      --it->second;
    }
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

 private:
  static std::mutex& mutex() {
    static auto* m = new std::mutex;  // never destroyed: used until the very end
    return *m;
  }
  static std::unordered_map<const void*, int>& counts() {
    static auto* c = new std::unordered_map<const void*, int>;
    return *c;
  }
  const void* object_;
};

// Converts `obj` to a C-contiguous float32 array (a copy only when it is not one
// already), after checking it is a real-valued array of the expected rank.
FloatArray as_floats(const char* name, const py::handle& obj, int ndim) {
  py::array arr = py::array::ensure(obj);
  if (!arr) throw py::type_error(std::string(name) + ": expected an array of numbers, got " +
                                 py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
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
  throw py::value_error("loss: expected one of 'mse', 'cross_entropy', 'binary_cross_entropy', got '" +
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

// ---------------------------------------------------------------- ops

FloatArray matmul(const py::handle& a_obj, const py::handle& b_obj, const py::handle& trans_a_obj,
                  const py::handle& trans_b_obj, const py::handle& alpha_obj, const py::handle& beta_obj,
                  const py::object& c_obj) {
  const bool trans_a = bool_arg("trans_a", trans_a_obj), trans_b = bool_arg("trans_b", trans_b_obj);
  const float alpha = float_arg("alpha", alpha_obj);
  float beta = float_arg("beta", beta_obj);
  FloatArray a = as_floats("a", a_obj, 2), b = as_floats("b", b_obj, 2);
  const std::size_t m = a.shape(trans_a ? 1 : 0), k = a.shape(trans_a ? 0 : 1);
  const std::size_t kb = b.shape(trans_b ? 1 : 0), n = b.shape(trans_b ? 0 : 1);
  if (k != kb) {
    throw py::value_error("b: op(a) is " + std::to_string(m) + " x " + std::to_string(k) +
                          ", so op(b) must have " + std::to_string(k) + " rows; b has shape " +
                          shape_str(b) + (trans_b ? " (transposed)" : ""));
  }
  FloatArray c;
  if (c_obj.is_none()) {
    c = FloatArray({m, n});
    beta = 0.0f;
  } else {
    c = FloatArray(as_floats("c", c_obj, 2));  // a new array: the caller's c is never written
    if (c.shape(0) != static_cast<py::ssize_t>(m) || c.shape(1) != static_cast<py::ssize_t>(n)) {
      throw py::value_error("c: expected shape (" + std::to_string(m) + ", " + std::to_string(n) +
                            "), got " + shape_str(c));
    }
    if (c.ptr() == c_obj.ptr()) c = FloatArray(py::array(c).attr("copy")());
  }
  const float *pa = a.data(), *pb = b.data();
  float* pc = c.mutable_data();
  {
    NativeSection native;
    sgemm(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, m, n, k, alpha, pa,
          a.shape(1), pb, b.shape(1), beta, pc, n);
  }
  return c;
}

// sgemm with its epilogue (bias + activation, or the activation derivative
// through a stored output) and the fused column sums of op(b); for tests and
// benchmarks of the fused kernels. Returns (c, column sums of op(b) or None).
// `run` is the sgemm to use (the CPU one, or the CUDA one on host arrays).
template <class Sgemm>
py::tuple gemm_fused_with(Sgemm run, const py::handle& a_obj, const py::handle& b_obj, const py::handle& trans_a_obj,
                     const py::handle& trans_b_obj, const py::handle& alpha_obj, const py::handle& beta_obj,
                     const py::object& c_obj, const py::object& bias_obj, const py::handle& act,
                     const py::object& act_output_obj, const py::handle& column_sums_obj) {
  const bool trans_a = bool_arg("trans_a", trans_a_obj), trans_b = bool_arg("trans_b", trans_b_obj);
  const bool column_sums = bool_arg("column_sums", column_sums_obj);
  const float alpha = float_arg("alpha", alpha_obj);
  float beta = float_arg("beta", beta_obj);
  const Activation activation = parse_activation(act);
  FloatArray a = as_floats("a", a_obj, 2), b = as_floats("b", b_obj, 2);
  const std::size_t m = a.shape(trans_a ? 1 : 0), n = b.shape(trans_b ? 0 : 1);
  FloatArray c = matmul(a, b, py::bool_(trans_a), py::bool_(trans_b), py::float_(0.0), py::float_(0.0),
                        py::none());  // checks shapes
  const std::size_t k = a.shape(trans_a ? 0 : 1);
  if (!c_obj.is_none()) {
    FloatArray c_in = as_floats("c", c_obj, 2);
    if (c_in.shape(0) != c.shape(0) || c_in.shape(1) != c.shape(1)) {
      throw py::value_error("c: expected shape (" + std::to_string(m) + ", " + std::to_string(n) +
                            "), got " + shape_str(c_in));
    }
    std::copy(c_in.data(), c_in.data() + c_in.size(), c.mutable_data());
  } else {
    beta = 0.0f;
  }
  Epilogue ep;
  ep.act = activation;
  FloatArray bias, y;
  if (!bias_obj.is_none()) {
    bias = as_floats("bias", bias_obj, 1);
    if (bias.shape(0) != static_cast<py::ssize_t>(n)) {
      throw py::value_error("bias: expected shape (" + std::to_string(n) + ",), got " + shape_str(bias));
    }
    ep.bias = bias.data();
  }
  if (!act_output_obj.is_none()) {
    if (ep.bias) throw py::value_error("act_output: cannot be combined with a bias");
    y = as_floats("act_output", act_output_obj, 2);
    if (y.shape(0) != static_cast<py::ssize_t>(m) || y.shape(1) != static_cast<py::ssize_t>(n)) {
      throw py::value_error("act_output: expected shape (" + std::to_string(m) + ", " +
                            std::to_string(n) + "), got " + shape_str(y));
    }
    ep.act_output = y.data();
    ep.ld_act_output = n;
  }
  FloatArray sums;
  if (column_sums) {
    sums = FloatArray(static_cast<py::ssize_t>(n));
    ep.b_column_sums = sums.mutable_data();
  }
  const float *pa = a.data(), *pb = b.data();
  float* pc = c.mutable_data();
  {
    NativeSection native;
    run(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, m, n, k, alpha, pa,
        a.shape(1), pb, b.shape(1), beta, pc, n, ep);
  }
  return py::make_tuple(c, column_sums ? py::object(sums) : py::object(py::none()));
}

py::tuple gemm_fused(const py::handle& a_obj, const py::handle& b_obj, const py::handle& trans_a_obj,
                     const py::handle& trans_b_obj, const py::handle& alpha_obj, const py::handle& beta_obj,
                     const py::object& c_obj, const py::object& bias_obj, const py::handle& act,
                     const py::object& act_output_obj, const py::handle& column_sums_obj) {
  return gemm_fused_with(&sgemm, a_obj, b_obj, trans_a_obj, trans_b_obj, alpha_obj, beta_obj, c_obj, bias_obj, act,
                         act_output_obj, column_sums_obj);
}

FloatArray activation_forward_py(const py::handle& act, const py::handle& x_obj) {
  FloatArray x = as_floats("x", x_obj, -1);
  const Activation a = parse_activation(act);
  FloatArray y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const float* px = x.data();
  float* py_ = y.mutable_data();
  const std::size_t n = x.size();
  {
    NativeSection native;
    activation_forward(a, n, px, py_);
  }
  return y;
}

FloatArray activation_backward_py(const py::handle& act, const py::handle& y_obj,
                                  const py::handle& dy_obj) {
  FloatArray y = as_floats("y", y_obj, -1), dy = as_floats("dy", dy_obj, -1);
  const Activation a = parse_activation(act);
  if (y.ndim() != dy.ndim() || !std::equal(y.shape(), y.shape() + y.ndim(), dy.shape())) {
    throw py::value_error("dy: expected the shape of y " + shape_str(y) + ", got " + shape_str(dy));
  }
  FloatArray dx(std::vector<py::ssize_t>(y.shape(), y.shape() + y.ndim()));
  const float *pyv = y.data(), *pdy = dy.data();
  float* pdx = dx.mutable_data();
  const std::size_t n = y.size();
  {
    NativeSection native;
    activation_backward(a, n, pyv, pdy, pdx);
  }
  return dx;
}

FloatArray softmax_py(const py::handle& x_obj) {
  FloatArray x = as_floats("x", x_obj, 2);
  if (x.shape(1) == 0) throw py::value_error("x: expected at least one column, got shape " + shape_str(x));
  FloatArray y({x.shape(0), x.shape(1)});
  const float* px = x.data();
  float* py_ = y.mutable_data();
  const std::size_t rows = x.shape(0), cols = x.shape(1);
  {
    NativeSection native;
    softmax(rows, cols, px, py_);
  }
  return y;
}

// The targets of a loss, checked against the outputs: int labels (cross-entropy)
// or a float array shaped like the outputs.
// (A default-constructed array_t is an empty array, not a null handle, hence optional.)
struct CheckedTargets {
  std::optional<LabelArray> labels;
  std::optional<FloatArray> dense;
  Targets view() const {
    Targets t;
    if (labels) t.labels = labels->data();
    if (dense) t.dense = dense->data();
    return t;
  }
};

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
    auto bad_label = [&](const std::string& got, std::size_t i) {
      throw py::value_error(std::string(name) + ": labels must be in [0, " + std::to_string(cols) +
                            "), got " + got + " at index " + std::to_string(i));
    };
    if (kind == 'u') {
      py::array as64 = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
      const auto* p = static_cast<const std::uint64_t*>(as64.data());
      for (std::size_t i = 0; i < rows; ++i) {
        if (p[i] >= cols) bad_label(std::to_string(p[i]), i);
      }
    } else {
      py::array as64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
      const auto* p = static_cast<const std::int64_t*>(as64.data());
      for (std::size_t i = 0; i < rows; ++i) {
        if (p[i] < 0 || static_cast<std::uint64_t>(p[i]) >= cols) bad_label(std::to_string(p[i]), i);
      }
    }
    out.labels = LabelArray::ensure(arr);
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
  if (loss == LossKind::binary_cross_entropy) {
    // The loss and its gradient sigmoid(z) - t are those of a probability t.
    const float* p = dense.data();
    for (std::size_t i = 0, n = rows * cols; i < n; ++i) {
      if (!(p[i] >= 0.0f && p[i] <= 1.0f)) {
        throw py::value_error(std::string(name) + ": binary cross-entropy targets must be in [0, 1], got " +
                              py::repr(py::float_(p[i])).cast<std::string>() + " at flat index " + std::to_string(i));
      }
    }
  }
  if (loss == LossKind::cross_entropy) {
    // The fused gradient softmax(z) - t is only the gradient of -sum t log softmax(z)
    // when each target row is a probability distribution: refuse anything else.
    const float* p = dense.data();
    for (std::size_t r = 0; r < rows; ++r) {
      double sum = 0.0;
      for (std::size_t j = 0; j < cols; ++j) {
        const float v = p[r * cols + j];
        if (v < 0.0f) {
          throw py::value_error(std::string(name) + ": cross-entropy targets must be probabilities >= 0, got " +
                                std::to_string(v) + " in row " + std::to_string(r));
        }
        sum += v;
      }
      if (std::fabs(sum - 1.0) > 1e-3) {
        throw py::value_error(std::string(name) + ": cross-entropy target rows must sum to 1 (one-hot or "
                              "probabilities), row " + std::to_string(r) + " sums to " + std::to_string(sum));
      }
    }
  }
  out.dense = dense;
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

// The arguments of a loss on one batch (CPU or CUDA), checked.
struct CheckedLossArgs {
  LossKind loss;
  FloatArray out;
  std::size_t rows, cols;
  CheckedTargets targets;
  std::optional<FloatArray> weights;
};

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

py::tuple loss_py(const py::handle& loss_name, const py::handle& out_obj, const py::handle& t_obj,
                  const py::object& w_obj) {
  const auto [loss, out, rows, cols, t, w] = check_loss_args(loss_name, out_obj, t_obj, w_obj);
  FloatArray grad({rows, cols});
  const float* po = out.data();
  const float* pw = w ? w->data() : nullptr;
  float* pg = grad.mutable_data();
  const Targets tv = t.view();
  double value;
  {
    NativeSection native;
    const double norm = loss_normalizer(loss, rows, cols);
    value = loss_sum(loss, rows, cols, po, tv, pw, pg, static_cast<float>(1.0 / norm)) / norm;
  }
  return py::make_tuple(value, grad);
}

// ---------------------------------------------------------------- model

// Net: a Network or a cuda::CudaNetwork (anything with input_dim()).
template <class Net>
FloatArray check_inputs(const Net& net, const py::handle& obj, const char* name) {
  FloatArray x = as_floats(name, obj, 2);
  if (x.shape(0) == 0) throw py::value_error(std::string(name) + ": expected at least one row, got shape " + shape_str(x));
  if (static_cast<std::size_t>(x.shape(1)) != net.input_dim()) {
    throw py::value_error(std::string(name) + ": expected " + std::to_string(net.input_dim()) +
                          " features per row (the model's input_dim), got shape " + shape_str(x));
  }
  require_finite(name, x);
  return x;
}

py::list list_arg(const char* name, const py::handle& obj) {
  if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj)) {
    throw py::type_error(std::string(name) + ": expected a list, got " + type_name(obj) + " " + repr_short(obj));
  }
  return py::reinterpret_steal<py::list>(PySequence_List(obj.ptr()));
}

constexpr long long kMaxSize = 1LL << 40;  // far beyond any real layer: larger is a mistake

std::unique_ptr<Network> make_network(const py::handle& input_dim_obj, const py::handle& units_obj,
                                      const py::handle& acts_obj, const py::handle& inits_obj,
                                      const py::handle& seed_obj) {
  const std::size_t input_dim = static_cast<std::size_t>(int_arg("input_dim", input_dim_obj, 1, kMaxSize));
  const py::list units = list_arg("units", units_obj), acts = list_arg("activations", acts_obj),
                 inits = list_arg("inits", inits_obj);
  const std::uint64_t seed = u64_arg("seed", seed_obj);
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
  require_memory("units", 2.0 * 4.0 * params, "a network of " + std::to_string(static_cast<long long>(params)) +
                 " parameters");
  try {
    return std::make_unique<Network>(input_dim, std::move(specs), seed);
  } catch (const std::bad_alloc&) {
    throw_memory_error("units: not enough memory for a network of " +
                       std::to_string(static_cast<long long>(params)) + " parameters");
  }
}

py::list get_params(const Network& net) {
  Use use(&net, false, "get_weights");
  py::list out;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    FloatArray w({net.fan_in(l), net.fan_out(l)});
    FloatArray b(std::vector<py::ssize_t>{static_cast<py::ssize_t>(net.fan_out(l))});
    std::copy_n(net.params() + net.weight_offset(l), w.size(), w.mutable_data());
    std::copy_n(net.params() + net.bias_offset(l), b.size(), b.mutable_data());
    out.append(py::make_tuple(w, b));
  }
  return out;
}

void set_params(Network& net, const py::handle& layers_obj) {
  const py::list layers = list_arg("weights", layers_obj);
  if (layers.size() != net.num_layers()) {
    throw py::value_error("weights: expected " + std::to_string(net.num_layers()) +
                          " (W, b) pairs, got " + std::to_string(layers.size()));
  }
  std::vector<std::pair<FloatArray, FloatArray>> checked;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    const std::string where = "weights[" + std::to_string(l) + "]";
    if (!py::isinstance<py::list>(layers[l]) && !py::isinstance<py::tuple>(layers[l])) {
      throw py::type_error(where + ": expected a (W, b) pair, got " + type_name(layers[l]));
    }
    const py::list pair = py::reinterpret_steal<py::list>(PySequence_List(layers[l].ptr()));
    if (pair.size() != 2) {
      throw py::value_error(where + ": expected a (W, b) pair, got " + std::to_string(pair.size()) + " items");
    }
    FloatArray w = as_floats((where + "[0]").c_str(), pair[0], 2), b = as_floats((where + "[1]").c_str(), pair[1], 1);
    if (static_cast<std::size_t>(w.shape(0)) != net.fan_in(l) ||
        static_cast<std::size_t>(w.shape(1)) != net.fan_out(l)) {
      throw py::value_error("weights[" + std::to_string(l) + "][0]: expected W of shape (" +
                            std::to_string(net.fan_in(l)) + ", " + std::to_string(net.fan_out(l)) +
                            "), got " + shape_str(w));
    }
    if (static_cast<std::size_t>(b.shape(0)) != net.fan_out(l)) {
      throw py::value_error("weights[" + std::to_string(l) + "][1]: expected b of shape (" +
                            std::to_string(net.fan_out(l)) + ",), got " + shape_str(b));
    }
    require_finite((where + "[0]").c_str(), w);
    require_finite((where + "[1]").c_str(), b);
    checked.emplace_back(w, b);
  }
  Use use(&net, true, "set_weights");
  for (std::size_t l = 0; l < net.num_layers(); ++l) {  // all checked: now write
    std::copy_n(checked[l].first.data(), checked[l].first.size(), net.params() + net.weight_offset(l));
    std::copy_n(checked[l].second.data(), checked[l].second.size(), net.params() + net.bias_offset(l));
  }
}

FloatArray predict_py(const Network& net, const py::handle& x_obj, const py::handle& transform) {
  FloatArray x = check_inputs(net, x_obj, "X");
  const std::size_t rows = x.shape(0), out_dim = net.output_dim();
  const bool raw = py::isinstance<py::str>(transform) && transform.cast<std::string>() == "none";
  const LossKind kind = raw ? LossKind::mse : parse_loss(transform);
  Use use(&net, false, "predict");
  FloatArray out({rows, out_dim});
  const float* px = x.data();
  float* po = out.mutable_data();
  {
    NativeSection native;
    net.predict(px, rows, po);
    output_transform(kind, rows, out_dim, po);
  }
  return out;
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

// The arrays of one dataset, checked, kept alive while C++ reads them.
struct CheckedData {
  FloatArray x;
  CheckedTargets targets;
  std::optional<FloatArray> weights;
  Dataset view() const {
    Dataset d;
    d.x = x.data();
    d.rows = x.shape(0);
    d.targets = targets.view();
    d.sample_weight = weights ? weights->data() : nullptr;
    return d;
  }
};

template <class Net>
CheckedData check_data(const Net& net, LossKind loss, const py::handle& x, const py::handle& y,
                       const py::object& w) {
  CheckedData d;
  d.x = check_inputs(net, x, "X");
  d.targets = check_targets("y", y, loss, d.x.shape(0), net.output_dim());
  d.weights = check_weights(w, d.x.shape(0));
  return d;
}

// Runs `run(interrupted)` with the GIL released and returns its stats as a
// dict. Ctrl-C: `interrupted` polls Python's signal handlers at most every
// 50 ms, with the GIL.
template <class Run>
py::dict run_interruptible(Run run) {
  auto last = std::chrono::steady_clock::now();
  bool signalled = false;
  EpochStats stats;
  {
    NativeSection native;
    const FloatControl caller = native.caller_control();
    std::function<bool()> interrupted = [&]() {
      const auto now = std::chrono::steady_clock::now();
      if (now - last < std::chrono::milliseconds(50)) return false;
      last = now;
      FloatControlScope python_side(caller);  // signal handlers run Python code
      py::gil_scoped_acquire gil;
      signalled = PyErr_CheckSignals() != 0;
      return signalled;
    };
    stats = run(interrupted);
  }
  if (signalled) {
    // The exception a signal handler raised (KeyboardInterrupt for Ctrl-C) goes
    // on, carrying how far the epoch got: the model holds its last completed step.
    py::error_already_set err;
    try {
      err.value().attr("epoch_stats") = stats_dict(stats);
    } catch (const py::error_already_set&) {  // an exception type without attributes: nothing to add
    }
    throw err;
  }
  return stats_dict(stats);
}

py::dict run_epoch_py(Trainer& trainer, const py::handle& x, const py::handle& y, const py::object& w,
                      const py::handle& shuffle_obj, const py::handle& seed_obj, const py::handle& epoch_obj) {
  const bool shuffle = bool_arg("shuffle", shuffle_obj);
  const std::uint64_t seed = u64_arg("seed", seed_obj), epoch = u64_arg("epoch", epoch_obj);
  const CheckedData data = check_data(trainer.network(), trainer.loss(), x, y, w);
  Use use_net(&trainer.network(), true, "fit");
  Use use_sgd(&trainer.optimizer(), true, "fit");
  const Dataset view = data.view();
  return run_interruptible([&](const std::function<bool()>& interrupted) {
    return trainer.run_epoch(view, shuffle, seed, epoch, interrupted);
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
    stats = evaluate(net, loss, view);
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
  double per_row = static_cast<double>(net.input_dim() + 2 * net.max_width());
  for (std::size_t l = 0; l < net.num_layers(); ++l) per_row += static_cast<double>(net.fan_out(l));
  require_memory("X", 4.0 * per_row * static_cast<double>(rows),
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
  py::list layers;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    FloatArray gw({net.fan_in(l), net.fan_out(l)});
    FloatArray gb(std::vector<py::ssize_t>{static_cast<py::ssize_t>(net.fan_out(l))});
    std::copy_n(net.grads() + net.weight_offset(l), gw.size(), gw.mutable_data());
    std::copy_n(net.grads() + net.bias_offset(l), gb.size(), gb.mutable_data());
    layers.append(py::make_tuple(gw, gb));
  }
  return py::make_tuple(value, layers, dx);
}

SgdConfig make_sgd_config(const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                          const py::handle& weight_decay, const py::handle& nesterov) {
  SgdConfig c{float_arg("lr", lr), float_arg("momentum", momentum), float_arg("dampening", dampening),
              float_arg("weight_decay", weight_decay), bool_arg("nesterov", nesterov)};
  validate(c);
  return c;
}

// The optimizer's state, for save/load and for restoring after a divergence:
// the momentum buffer laid out as the network's (W, b) pairs (so files do not
// depend on the flat buffer's padding) and the step count.
void require_matching(const Sgd& sgd, const Network& net) {
  if (sgd.size() != net.param_count()) {
    throw py::value_error("network: this optimizer was made for a network of " + std::to_string(sgd.size()) +
                          " parameters, not this one of " + std::to_string(net.param_count()));
  }
}

py::tuple sgd_state(Sgd& sgd, const Network& net) {
  require_matching(sgd, net);
  Use use(&sgd, false, "optimizer state");
  py::list layers;
  const float* v = sgd.velocity();
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    FloatArray w({net.fan_in(l), net.fan_out(l)});
    FloatArray b(std::vector<py::ssize_t>{static_cast<py::ssize_t>(net.fan_out(l))});
    std::copy_n(v + net.weight_offset(l), w.size(), w.mutable_data());
    std::copy_n(v + net.bias_offset(l), b.size(), b.mutable_data());
    layers.append(py::make_tuple(w, b));
  }
  return py::make_tuple(layers, sgd.steps());
}

void set_sgd_state(Sgd& sgd, const Network& net, const py::handle& velocity_obj, const py::handle& steps_obj) {
  require_matching(sgd, net);
  const auto steps = static_cast<std::size_t>(int_arg("steps", steps_obj, 0, (1LL << 62)));
  const py::list layers = list_arg("velocity", velocity_obj);
  if (layers.size() != net.num_layers()) {
    throw py::value_error("velocity: expected " + std::to_string(net.num_layers()) + " (W, b) pairs, got " +
                          std::to_string(layers.size()));
  }
  std::vector<std::pair<FloatArray, FloatArray>> checked;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    const std::string where = "velocity[" + std::to_string(l) + "]";
    if (!py::isinstance<py::list>(layers[l]) && !py::isinstance<py::tuple>(layers[l])) {
      throw py::type_error(where + ": expected a (W, b) pair, got " + type_name(layers[l]));
    }
    const py::list pair = py::reinterpret_steal<py::list>(PySequence_List(layers[l].ptr()));
    if (pair.size() != 2) throw py::value_error(where + ": expected a (W, b) pair");
    FloatArray w = as_floats((where + "[0]").c_str(), pair[0], 2), b = as_floats((where + "[1]").c_str(), pair[1], 1);
    if (static_cast<std::size_t>(w.shape(0)) != net.fan_in(l) || static_cast<std::size_t>(w.shape(1)) != net.fan_out(l) ||
        static_cast<std::size_t>(b.shape(0)) != net.fan_out(l)) {
      throw py::value_error(where + ": expected shapes (" + std::to_string(net.fan_in(l)) + ", " +
                            std::to_string(net.fan_out(l)) + ") and (" + std::to_string(net.fan_out(l)) +
                            ",), got " + shape_str(w) + " and " + shape_str(b));
    }
    require_finite((where + "[0]").c_str(), w);
    require_finite((where + "[1]").c_str(), b);
    checked.emplace_back(w, b);
  }
  Use use(&sgd, true, "optimizer state");
  float* v = sgd.velocity();
  std::fill_n(v, sgd.size(), 0.0f);
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    std::copy_n(checked[l].first.data(), checked[l].first.size(), v + net.weight_offset(l));
    std::copy_n(checked[l].second.data(), checked[l].second.size(), v + net.bias_offset(l));
  }
  sgd.set_steps(steps);
}

// The flat momentum buffer, for cheap snapshots within one process.
FloatArray flat_velocity(Sgd& sgd) {
  Use use(&sgd, false, "optimizer state");
  FloatArray out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(sgd.size())});
  std::copy_n(sgd.velocity(), sgd.size(), out.mutable_data());
  return out;
}

void set_flat_velocity(Sgd& sgd, const py::handle& obj, const py::handle& steps_obj) {
  FloatArray v = as_floats("velocity", obj, 1);
  if (static_cast<std::size_t>(v.shape(0)) != sgd.size()) {
    throw py::value_error("velocity: expected " + std::to_string(sgd.size()) + " values, got shape " + shape_str(v));
  }
  require_finite("velocity", v);
  const auto steps = static_cast<std::size_t>(int_arg("steps", steps_obj, 0, (1LL << 62)));
  Use use(&sgd, true, "optimizer state");
  std::copy_n(v.data(), sgd.size(), sgd.velocity());
  sgd.set_steps(steps);
}

// One SGD step from the given gradients, applied only if it and its results are
// finite (the trainer's per-step check, exposed for tests). Returns whether it was.
bool sgd_step_if_finite(Sgd& sgd, Network& net, const py::handle& grads_obj) {
  require_matching(sgd, net);
  FloatArray g = as_floats("grads", grads_obj, 1);
  if (static_cast<std::size_t>(g.shape(0)) != sgd.size()) {
    throw py::value_error("grads: expected " + std::to_string(sgd.size()) + " values, got shape " + shape_str(g));
  }
  Use use_net(&net, true, "step_if_finite");
  Use use_sgd(&sgd, true, "optimizer state");
  NativeSection native;
  sgd.measure(net.params());  // the weights may have been set since the last step
  return sgd.step_if_finite(net.params(), g.data());
}

// For the input checks in Python: X is checked on every predict and fit.
bool all_finite_py(const py::array_t<float, py::array::c_style | py::array::forcecast>& x) {
  return all_finite(x.data(), static_cast<std::size_t>(x.size()));
}

// The flat parameter buffer (layer padding included), for cheap snapshots.
FloatArray flat_params(const Network& net) {
  Use use(&net, false, "get_weights");
  FloatArray out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(net.param_count())});
  std::copy_n(net.params(), net.param_count(), out.mutable_data());
  return out;
}

void set_flat_params(Network& net, const py::handle& obj) {
  FloatArray p = as_floats("params", obj, 1);
  if (static_cast<std::size_t>(p.shape(0)) != net.param_count()) {
    throw py::value_error("params: expected " + std::to_string(net.param_count()) + " values, got shape " +
                          shape_str(p));
  }
  require_finite("params", p);
  Use use(&net, true, "set_weights");
  std::copy_n(p.data(), net.param_count(), net.params());
}

bool params_finite(const Network& net) {
  Use use(&net, false, "params_finite");
  return all_finite(net.params(), net.param_count());
}

double weights_squared_norm(const Network& net) {
  Use use(&net, false, "weights_squared_norm");
  NativeSection native;
  return net.weights_squared_norm();
}

std::unique_ptr<Trainer> make_trainer(Network& net, Sgd& sgd, const py::handle& loss_obj,
                                      const py::handle& batch_obj) {
  const LossKind loss = parse_loss(loss_obj);
  const auto batch = static_cast<std::size_t>(int_arg("batch_size", batch_obj, 1, kMaxSize));
  if (sgd.size() != net.param_count()) {
    throw py::value_error("sgd: this optimizer was made for a network of " + std::to_string(sgd.size()) +
                          " parameters, not this one of " + std::to_string(net.param_count()));
  }
  // Per-row workspaces: every layer's output, two deltas, the gathered inputs and targets.
  double per_row = static_cast<double>(net.input_dim() + net.output_dim() + 2 * net.max_width() + 2);
  for (std::size_t l = 0; l < net.num_layers(); ++l) per_row += static_cast<double>(net.fan_out(l));
  require_memory("batch_size", 4.0 * per_row * static_cast<double>(batch),
                 "a batch of " + std::to_string(batch) + " rows");
  try {
    return std::make_unique<Trainer>(net, sgd, loss, batch);
  } catch (const std::bad_alloc&) {
    throw_memory_error("batch_size: not enough memory for the workspaces of a batch of " +
                       std::to_string(batch) + " rows");
  }
}

// ---------------------------------------------------------------- CUDA
#ifdef MLPCORE_HAVE_CUDA

template <class T>
cuda::DeviceArray<T> to_device(const T* host, std::size_t n) {
  cuda::DeviceArray<T> d(n);
  d.upload(host, n);
  return d;
}

template <class T>
cuda::DeviceArray<T> to_device(const py::array_t<T, py::array::c_style | py::array::forcecast>& a) {
  return to_device(a.data(), static_cast<std::size_t>(a.size()));
}

template <class T>
py::array_t<T> to_host(const cuda::DeviceArray<T>& d, std::vector<py::ssize_t> shape) {
  py::array_t<T> out(shape);
  d.download(out.mutable_data(), out.size());
  return out;
}

std::vector<py::ssize_t> shape_of(const py::array& a) { return {a.shape(), a.shape() + a.ndim()}; }

// The CUDA kernels on host arrays (copied to the device and back): the surface
// on which tests compare each CUDA kernel with the CPU one.

// cuda::sgemm with the signature of mlpcore::sgemm on host pointers.
void cuda_sgemm_on_host(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                        std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc,
                        const Epilogue& ep) {
  auto da = to_device(a, (ta == Trans::yes ? k : m) * lda), db = to_device(b, (tb == Trans::yes ? n : k) * ldb);
  auto dc = to_device(c, m * ldc);
  cuda::DeviceArray<float> bias, act_output, sums;
  Epilogue dep = ep;
  if (ep.bias) {
    bias = to_device(ep.bias, n);
    dep.bias = bias.data();
  }
  if (ep.act_output) {
    act_output = to_device(ep.act_output, m * ep.ld_act_output);
    dep.act_output = act_output.data();
  }
  if (ep.b_column_sums) {
    sums.resize(n);
    dep.b_column_sums = sums.data();
  }
  cuda::sgemm(ta, tb, m, n, k, alpha, da.data(), lda, db.data(), ldb, beta, dc.data(), ldc, dep);
  dc.download(c, m * ldc);
  if (ep.b_column_sums) sums.download(ep.b_column_sums, n);
}

py::tuple cuda_gemm_fused(const py::handle& a_obj, const py::handle& b_obj, const py::handle& trans_a_obj,
                          const py::handle& trans_b_obj, const py::handle& alpha_obj, const py::handle& beta_obj,
                          const py::object& c_obj, const py::object& bias_obj, const py::handle& act,
                          const py::object& act_output_obj, const py::handle& column_sums_obj) {
  return gemm_fused_with(&cuda_sgemm_on_host, a_obj, b_obj, trans_a_obj, trans_b_obj, alpha_obj, beta_obj, c_obj,
                         bias_obj, act, act_output_obj, column_sums_obj);
}

FloatArray cuda_activation_forward(const py::handle& act, const py::handle& x_obj) {
  FloatArray x = as_floats("x", x_obj, -1);
  const Activation a = parse_activation(act);
  auto d = to_device(x);
  cuda::activation_forward(a, x.size(), d.data(), d.data());
  return to_host(d, shape_of(x));
}

FloatArray cuda_activation_backward(const py::handle& act, const py::handle& y_obj, const py::handle& dy_obj) {
  FloatArray y = as_floats("y", y_obj, -1), dy = as_floats("dy", dy_obj, -1);
  const Activation a = parse_activation(act);
  if (shape_of(y) != shape_of(dy)) {
    throw py::value_error("dy: expected the shape of y " + shape_str(y) + ", got " + shape_str(dy));
  }
  auto dev_y = to_device(y), dev_dy = to_device(dy);
  cuda::activation_backward(a, y.size(), dev_y.data(), dev_dy.data(), dev_dy.data());
  return to_host(dev_dy, shape_of(y));
}

FloatArray cuda_bias_activation(const py::handle& act, const py::handle& y_obj, const py::object& bias_obj) {
  FloatArray y = as_floats("y", y_obj, 2);
  const Activation a = parse_activation(act);
  std::optional<FloatArray> bias;
  if (!bias_obj.is_none()) {
    bias = as_floats("bias", bias_obj, 1);
    if (bias->shape(0) != y.shape(1)) {
      throw py::value_error("bias: expected shape (" + std::to_string(y.shape(1)) + ",), got " + shape_str(*bias));
    }
  }
  auto dy = to_device(y);
  cuda::DeviceArray<float> db;
  if (bias) db = to_device(*bias);
  cuda::bias_activation(a, y.shape(0), y.shape(1), bias ? db.data() : nullptr, dy.data(), y.shape(1));
  return to_host(dy, shape_of(y));
}

FloatArray cuda_softmax(const py::handle& x_obj) {
  FloatArray x = as_floats("x", x_obj, 2);
  if (x.shape(1) == 0) throw py::value_error("x: expected at least one column, got shape " + shape_str(x));
  auto d = to_device(x);
  cuda::softmax(x.shape(0), x.shape(1), d.data(), d.data());
  return to_host(d, shape_of(x));
}

FloatArray cuda_column_sums(const py::handle& x_obj) {
  FloatArray x = as_floats("x", x_obj, 2);
  auto d = to_device(x);
  cuda::DeviceArray<float> out(x.shape(1));
  cuda::column_sums(x.shape(0), x.shape(1), d.data(), out.data());
  return to_host(out, {x.shape(1)});
}

// (mean loss, gradient, correct predictions) of a batch, as the CUDA trainer computes them.
py::tuple cuda_loss(const py::handle& loss_name, const py::handle& out_obj, const py::handle& t_obj,
                    const py::object& w_obj) {
  const auto [loss, out, rows, cols, t, w] = check_loss_args(loss_name, out_obj, t_obj, w_obj);
  auto d_out = to_device(out);
  cuda::DeviceArray<std::int32_t> d_labels;
  cuda::DeviceArray<float> d_dense, d_w, d_grad(rows * cols);
  Targets tv;
  if (t.labels) {
    d_labels = to_device(*t.labels);
    tv.labels = d_labels.data();
  } else {
    d_dense = to_device(*t.dense);
    tv.dense = d_dense.data();
  }
  if (w) d_w = to_device(*w);
  cuda::DeviceArray<double> row_loss(rows), value(1);
  cuda::DeviceArray<int> row_correct(rows);
  cuda::DeviceArray<long long> correct(1);
  const double norm = loss_normalizer(loss, rows, cols);
  cuda::loss_rows(loss, rows, cols, d_out.data(), tv, w ? d_w.data() : nullptr, d_grad.data(),
                  static_cast<float>(1.0 / norm), row_loss.data(), row_correct.data());
  cuda::reduce_batch(rows, row_loss.data(), row_correct.data(), norm, value.data(), correct.data(), nullptr);
  double v = 0.0;
  long long c = 0;
  value.download(&v, 1);
  correct.download(&c, 1);
  return py::make_tuple(v, to_host(d_grad, shape_of(out)), c);
}

// One SGD step on copies of the arrays: returns (params, velocity).
py::tuple cuda_sgd_step(const py::handle& p_obj, const py::handle& g_obj, const py::handle& v_obj,
                        const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                        const py::handle& weight_decay, const py::handle& nesterov, const py::handle& first_obj) {
  FloatArray p = as_floats("params", p_obj, 1), g = as_floats("grads", g_obj, 1), v = as_floats("velocity", v_obj, 1);
  if (g.size() != p.size() || v.size() != p.size()) {
    throw py::value_error("grads, velocity: expected the shape of params " + shape_str(p));
  }
  const SgdConfig c = make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
  const bool first = bool_arg("first_step", first_obj);
  auto dp = to_device(p), dg = to_device(g), dv = to_device(v);
  cuda::sgd_step(p.size(), dp.data(), dg.data(), dv.data(), c, first, nullptr);
  return py::make_tuple(to_host(dp, shape_of(p)), to_host(dv, shape_of(p)));
}

FloatArray cuda_gather_rows(const py::handle& x_obj, const py::handle& idx_obj) {
  FloatArray x = as_floats("x", x_obj, 2);
  py::array idx_any = py::array::ensure(idx_obj);
  if (!idx_any || idx_any.ndim() != 1 || (idx_any.dtype().kind() != 'i' && idx_any.dtype().kind() != 'u')) {
    throw py::type_error("idx: expected a 1-d array of integer row indices");
  }
  auto idx64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(idx_any);
  std::vector<std::uint32_t> idx(idx64.size());
  for (py::ssize_t i = 0; i < idx64.size(); ++i) {
    const std::int64_t r = idx64.data()[i];
    if (r < 0 || r >= x.shape(0)) {
      throw py::value_error("idx: row " + std::to_string(r) + " is out of range for x of shape " + shape_str(x));
    }
    idx[i] = static_cast<std::uint32_t>(r);
  }
  auto dx = to_device(x);
  auto di = to_device(idx.data(), idx.size());
  cuda::DeviceArray<float> out(idx.size() * x.shape(1));
  cuda::gather_rows(idx.size(), x.shape(1), dx.data(), di.data(), out.data());
  return to_host(out, {static_cast<py::ssize_t>(idx.size()), x.shape(1)});
}

// The network, optimizer and trainer on the device. The model keeps the host
// Network and Sgd as the reference; these are filled from them and copied back.
FloatArray cuda_predict_py(const cuda::CudaNetwork& net, const py::handle& x_obj, const py::handle& transform) {
  FloatArray x = check_inputs(net, x_obj, "X");
  const std::size_t rows = x.shape(0), out_dim = net.output_dim();
  const bool raw = py::isinstance<py::str>(transform) && transform.cast<std::string>() == "none";
  std::optional<LossKind> kind;
  if (!raw) kind = parse_loss(transform);
  Use use(&net, false, "predict");
  FloatArray out({rows, out_dim});
  const float* px = x.data();
  float* po = out.mutable_data();
  {
    NativeSection native;
    net.predict(px, rows, po, kind);
  }
  return out;
}

py::dict cuda_evaluate_py(const cuda::CudaNetwork& net, const py::handle& loss_name, const py::handle& x,
                          const py::handle& y, const py::object& w) {
  const LossKind loss = parse_loss(loss_name);
  const CheckedData data = check_data(net, loss, x, y, w);
  Use use(&net, false, "evaluate");
  EpochStats stats;
  const Dataset view = data.view();
  {
    NativeSection native;
    stats = cuda::evaluate(net, loss, view);
  }
  return stats_dict(stats);
}

std::unique_ptr<cuda::CudaSgd> make_cuda_sgd(const cuda::CudaNetwork& net, const py::handle& lr,
                                             const py::handle& momentum, const py::handle& dampening,
                                             const py::handle& weight_decay, const py::handle& nesterov,
                                             const py::handle& decay_bias) {
  const SgdConfig c = make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
  const bool decay_biases = bool_arg("decay_bias", decay_bias);
  auto sgd = std::make_unique<cuda::CudaSgd>(c, net.param_count());
  if (!decay_biases) {
    std::vector<std::pair<std::size_t, std::size_t>> biases;
    for (std::size_t l = 0; l < net.num_layers(); ++l) {
      biases.emplace_back(net.bias_offset(l), net.bias_offset(l) + net.fan_out(l));
    }
    sgd->set_decay_exempt(biases);
  }
  return sgd;
}

std::unique_ptr<cuda::CudaTrainer> make_cuda_trainer(cuda::CudaNetwork& net, cuda::CudaSgd& sgd,
                                                     const py::handle& loss_obj, const py::handle& batch_obj) {
  const LossKind loss = parse_loss(loss_obj);
  const auto batch = static_cast<std::size_t>(int_arg("batch_size", batch_obj, 1, kMaxSize));
  if (sgd.size() != net.param_count()) {
    throw py::value_error("sgd: this optimizer was made for a network of " + std::to_string(sgd.size()) +
                          " parameters, not this one of " + std::to_string(net.param_count()));
  }
  return std::make_unique<cuda::CudaTrainer>(net, sgd, loss, batch);
}

void cuda_load_data_py(cuda::CudaTrainer& trainer, const py::handle& x, const py::handle& y, const py::object& w) {
  const CheckedData data = check_data(trainer.network(), trainer.loss(), x, y, w);
  const Dataset view = data.view();
  NativeSection native;
  trainer.load_data(view);
}

py::dict cuda_run_epoch_py(cuda::CudaTrainer& trainer, const py::handle& shuffle_obj, const py::handle& seed_obj,
                           const py::handle& epoch_obj) {
  const bool shuffle = bool_arg("shuffle", shuffle_obj);
  const std::uint64_t seed = u64_arg("seed", seed_obj), epoch = u64_arg("epoch", epoch_obj);
  if (!trainer.has_data()) throw py::value_error("run_epoch: no data on the device; call load_data first");
  Use use_net(&trainer.network(), true, "fit");
  return run_interruptible([&](const std::function<bool()>& interrupted) {
    return trainer.run_epoch(shuffle, seed, epoch, interrupted);
  });
}

void bind_cuda(py::module_& m) {
  py::module_ cm = m.def_submodule("cuda", "The CUDA backend: kernels on host arrays, Network, Sgd, Trainer.");
  static py::exception<cuda::CudaError> cuda_error(cm, "CudaError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const cuda::CudaError& e) {
      py::set_error(cuda_error, e.what());
    }
  });
  cm.def("device_count", &cuda::device_count);
  cm.def("unavailable_reason", &cuda::device_count_error,
         "Why no device is usable (the runtime's message), or '' when one is.");
  cm.def("device_name", &cuda::device_name);

  cm.def("gemm_fused", &cuda_gemm_fused, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
         py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("c") = py::none(),
         py::arg("bias") = py::none(), py::arg("activation") = "identity", py::arg("act_output") = py::none(),
         py::arg("column_sums") = false);
  cm.def("activation_forward", &cuda_activation_forward, py::arg("activation"), py::arg("x"));
  cm.def("activation_backward", &cuda_activation_backward, py::arg("activation"), py::arg("y"), py::arg("dy"));
  cm.def("bias_activation", &cuda_bias_activation, py::arg("activation"), py::arg("y"), py::arg("bias") = py::none());
  cm.def("softmax", &cuda_softmax, py::arg("x"));
  cm.def("column_sums", &cuda_column_sums, py::arg("x"));
  cm.def("loss", &cuda_loss, py::arg("loss"), py::arg("output"), py::arg("target"),
         py::arg("sample_weight") = py::none());
  cm.def("sgd_step", &cuda_sgd_step, py::arg("params"), py::arg("grads"), py::arg("velocity"), py::arg("lr"),
         py::arg("momentum") = 0.0f, py::arg("dampening") = 0.0f, py::arg("weight_decay") = 0.0f,
         py::arg("nesterov") = false, py::arg("first_step") = true);
  cm.def("gather_rows", &cuda_gather_rows, py::arg("x"), py::arg("idx"));
  cm.def("time_sgemm", [](const py::handle& m_obj, const py::handle& n_obj, const py::handle& k_obj,
                          const py::handle& ta, const py::handle& tb, const py::handle& repeats,
                          const py::handle& bias, const py::handle& act) {
    const auto m = static_cast<std::size_t>(int_arg("m", m_obj, 0, kMaxSize));
    const auto n = static_cast<std::size_t>(int_arg("n", n_obj, 0, kMaxSize));
    const auto k = static_cast<std::size_t>(int_arg("k", k_obj, 0, kMaxSize));
    const bool trans_a = bool_arg("trans_a", ta), trans_b = bool_arg("trans_b", tb), with_bias = bool_arg("bias", bias);
    const int reps = static_cast<int>(int_arg("repeats", repeats, 1, 1000000));
    const Activation a = parse_activation(act);
    NativeSection native;
    return cuda::time_sgemm(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, m, n, k, reps,
                            with_bias, a);
  }, py::arg("m"), py::arg("n"), py::arg("k"), py::arg("trans_a") = false, py::arg("trans_b") = false,
     py::arg("repeats") = 10, py::arg("bias") = false, py::arg("activation") = "identity",
     "Seconds per SGEMM call on device-resident operands (for benchmarks).");

  py::class_<cuda::CudaNetwork>(cm, "Network")
      .def(py::init<const Network&>(), py::arg("host"))
      .def("copy_from", &cuda::CudaNetwork::copy_from, py::arg("host"), "Weights from the host network.")
      .def("copy_to", &cuda::CudaNetwork::copy_to, py::arg("host"), "Weights into the host network.")
      .def_property_readonly("input_dim", &cuda::CudaNetwork::input_dim)
      .def_property_readonly("output_dim", &cuda::CudaNetwork::output_dim)
      .def_property_readonly("num_layers", &cuda::CudaNetwork::num_layers)
      .def_property_readonly("param_count", &cuda::CudaNetwork::param_count)
      .def("predict", &cuda_predict_py, py::arg("X"), py::arg("transform") = "none");

  py::class_<cuda::CudaSgd>(cm, "Sgd")
      .def(py::init(&make_cuda_sgd), py::arg("network"), py::arg("lr"), py::arg("momentum") = 0.0f,
           py::arg("dampening") = 0.0f, py::arg("weight_decay") = 0.0f, py::arg("nesterov") = false,
           py::arg("decay_bias") = true)
      .def("copy_state_from", &cuda::CudaSgd::copy_state_from, py::arg("host"),
           "Settings, momentum buffer and step count from the host optimizer.")
      .def("copy_state_to", &cuda::CudaSgd::copy_state_to, py::arg("host"),
           "Momentum buffer and step count into the host optimizer.")
      .def_property_readonly("size", &cuda::CudaSgd::size)
      .def_property_readonly("steps", &cuda::CudaSgd::steps);

  py::class_<cuda::CudaTrainer>(cm, "Trainer")
      .def(py::init(&make_cuda_trainer), py::arg("network"), py::arg("sgd"), py::arg("loss"), py::arg("batch_size"),
           py::keep_alive<1, 2>(), py::keep_alive<1, 3>())
      .def("load_data", &cuda_load_data_py, py::arg("X"), py::arg("y"), py::arg("sample_weight") = py::none(),
           "Copy a dataset to the device; run_epoch trains on it.")
      .def("run_epoch", &cuda_run_epoch_py, py::arg("shuffle") = true, py::arg("seed") = 0, py::arg("epoch") = 0);

  cm.def("evaluate", &cuda_evaluate_py, py::arg("network"), py::arg("loss"), py::arg("X"), py::arg("y"),
         py::arg("sample_weight") = py::none());
}

#endif  // MLPCORE_HAVE_CUDA

int max_threads_allowed() {
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::max(1024u, 16u * hw));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "mlpcore's native core: kernels, networks and the training loop.";
  m.attr("__version__") = MLPCORE_VERSION;

  // A model used by two threads in conflicting ways (see Use).
  static py::exception<ModelBusy> busy(m, "ModelBusyError", PyExc_RuntimeError);
  // Any other C++ exception reaching Python is a bug in mlpcore, never the
  // user's input: say so instead of showing a bare RuntimeError.
  static py::exception<std::exception> native(m, "NativeError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ModelBusy& e) {
      py::set_error(busy, e.what());
    } catch (const std::bad_alloc&) {
      py::set_error(PyExc_MemoryError, "mlpcore: out of memory");
    } catch (const std::invalid_argument& e) {
      py::set_error(PyExc_ValueError, e.what());
    } catch (const std::length_error& e) {
      py::set_error(PyExc_ValueError, e.what());
    } catch (const std::out_of_range& e) {
      py::set_error(PyExc_ValueError, e.what());
    } catch (const py::builtin_exception&) {
      throw;  // pybind11's own (type_error, value_error, ...) translate themselves
    } catch (const py::error_already_set&) {
      throw;
    } catch (const std::exception& e) {
      py::set_error(native, (std::string("mlpcore internal error (please report it): ") + e.what()).c_str());
    }
  });

  auto blocking_dict = [](const GemmBlocking& b) {
    py::dict d;
    d["mr"] = b.mr;
    d["nr"] = b.nr;
    d["mc"] = b.mc;
    d["kc"] = b.kc;
    d["nc"] = b.nc;
    return d;
  };
  auto caches_dict = [](const CachesInUse& c) {
    py::dict d;
    const auto bytes = [](std::size_t v) { return v ? py::object(py::int_(v)) : py::object(py::none()); };
    d["l1d"] = bytes(c.per_core.l1d);
    d["l2"] = bytes(c.per_core.l2);
    d["l3"] = bytes(c.per_core.l3);
    d["source"] = c.source;
    d["distrusted"] = c.distrusted;
    return d;
  };
  m.def("config", [blocking_dict, caches_dict]() {
    py::dict d;
    d["version"] = MLPCORE_VERSION;
    d["isa"] = isa_name(kernels().isa);
    py::list isas;
    py::list emulated;
    for (Isa isa : supported_isas()) {
      isas.append(isa_name(isa));
      if (isa_emulated(isa)) emulated.append(isa_name(isa));
    }
    d["isas"] = isas;
    d["emulated_isas"] = emulated;  // run in software, for tests: never a fast build
    d["threads"] = max_threads();
    d["openmp"] = openmp_enabled();
    d["serial_after_fork"] = serial_after_fork();
    d["flush_denormal"] = flush_denormal();
    py::dict cuda;
#ifdef MLPCORE_HAVE_CUDA
    cuda["compiled"] = true;
    cuda["devices"] = cuda::device_count();
#else
    cuda["compiled"] = false;
    cuda["devices"] = 0;
#endif
    d["cuda"] = cuda;
    const GemmBlocking b = kernels().sgemm_blocking;
    d["gemm_tile"] = py::make_tuple(b.mr, b.nr);
    d["caches"] = caches_dict(cpu_caches());
    py::dict blocking = blocking_dict(b);
    blocking["source"] = blocking_source();
    d["blocking"] = blocking;
    return d;
  }, "Build and run-time configuration: version, ISA in use, supported ISAs (and which of them are "
     "emulated in software), threads, OpenMP, whether this is a forked child running serially, subnormal "
     "flushing, CUDA, the caches (a core's share of L1d, L2, L3 in bytes, None where unknown or "
     "implausible) and the GEMM blocking derived from them (mr, nr, mc, kc, nc; MLPCORE_BLOCKING "
     "overrides kc, mc, nc).");
  m.def("_derive_blocking", [blocking_dict, caches_dict](const std::string& isa, std::size_t l1d, std::size_t l2, std::size_t l3,
                               int l2_cores, int l3_cores) {
    Isa which = Isa::generic;
    bool known = false;
    for (Isa i : {Isa::generic, Isa::neon, Isa::avx2, Isa::avx512}) {
      if (isa == isa_name(i)) which = i, known = true;
    }
    if (!known) throw py::value_error("isa: expected 'avx512', 'avx2', 'neon' or 'generic', got '" + isa + "'");
    CacheReport report;
    report.l1d = {l1d, 1};
    report.l2 = {l2, l2_cores};
    report.l3 = {l3, l3_cores};
    report.source = "given";
    const CachesInUse in_use = caches_in_use(report);
    py::dict out;
    out["caches"] = caches_dict(in_use);
    out["blocking"] = blocking_dict(derive_blocking(table_blocking(which), in_use.per_core));
    return out;
  }, py::arg("isa"), py::arg("l1d"), py::arg("l2"), py::arg("l3"), py::arg("l2_cores") = 1,
     py::arg("l3_cores") = 1,
     "For tests: the caches in use and the blocking derived for an ISA's table from the given cache "
     "sizes in bytes (0: unknown) and the cores sharing L2 and L3.");
  m.def("set_flush_denormal", [](const py::handle& enabled) { set_flush_denormal(bool_arg("enabled", enabled)); },
        py::arg("enabled"), "Whether native compute flushes subnormal floats to zero (process-wide, default True).");
  m.def("_float_control", []() { return float_control(); },
        "The calling thread's floating-point control register (MXCSR or FPCR), for tests.");
  m.def("set_isa", [](const py::handle& name) { select_isa(str_arg("name", name)); }, py::arg("name"),
        "Use the kernels of another instruction set this machine supports (for testing and benchmarks).");
  m.def("set_num_threads", [](const py::handle& n) {
    set_num_threads(static_cast<int>(int_arg("n", n, 1, max_threads_allowed())));
  }, py::arg("n"));
  m.def("get_num_threads", &max_threads);
  m.def("check_sgd", [](const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                        const py::handle& weight_decay, const py::handle& nesterov) {
    make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
  }, py::arg("lr"), py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"),
        "Raises what Sgd(...) would for these settings: types and ranges are checked in one place.");

  m.def("matmul", &matmul, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
        py::arg("c") = py::none());
  m.def("gemm_fused", &gemm_fused, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
        py::arg("c") = py::none(), py::arg("bias") = py::none(), py::arg("activation") = "identity",
        py::arg("act_output") = py::none(), py::arg("column_sums") = false);
  m.def("activation_forward", &activation_forward_py, py::arg("activation"), py::arg("x"));
  m.def("activation_backward", &activation_backward_py, py::arg("activation"), py::arg("y"), py::arg("dy"));
  m.def("softmax", &softmax_py, py::arg("x"));
  m.def("all_finite", &all_finite_py, py::arg("x"));
  m.def("loss", &loss_py, py::arg("loss"), py::arg("output"), py::arg("target"),
        py::arg("sample_weight") = py::none());

  py::class_<Network>(m, "Network")
      .def(py::init(&make_network), py::arg("input_dim"), py::arg("units"), py::arg("activations"),
           py::arg("inits"), py::arg("seed"))
      .def_property_readonly("input_dim", &Network::input_dim)
      .def_property_readonly("output_dim", &Network::output_dim)
      .def_property_readonly("num_layers", &Network::num_layers)
      .def_property_readonly("param_count", &Network::param_count)
      .def("get_params", &get_params)
      .def("set_params", &set_params, py::arg("weights"))
      .def("get_flat_params", &flat_params)
      .def("set_flat_params", &set_flat_params, py::arg("params"))
      .def("params_finite", &params_finite)
      .def("weights_squared_norm", &weights_squared_norm)
      .def("predict", &predict_py, py::arg("X"), py::arg("transform") = "none");

  py::class_<Sgd>(m, "Sgd")
      .def(py::init([](const Network& net, const py::handle& lr, const py::handle& momentum,
                       const py::handle& dampening, const py::handle& weight_decay, const py::handle& nesterov,
                       const py::handle& decay_bias) {
             const SgdConfig c = make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
             const bool decay_biases = bool_arg("decay_bias", decay_bias);
             require_memory("network", 4.0 * static_cast<double>(net.param_count()), "the momentum buffer");
             auto sgd = std::make_unique<Sgd>(c, net.param_count());
             if (!decay_biases) {
               std::vector<std::pair<std::size_t, std::size_t>> biases;
               for (std::size_t l = 0; l < net.num_layers(); ++l) {
                 biases.emplace_back(net.bias_offset(l), net.bias_offset(l) + net.fan_out(l));
               }
               sgd->set_decay_exempt(biases);
             }
             return sgd;
           }),
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
      .def("state_finite", [](Sgd& s) {
        Use use(&s, false, "optimizer state");
        return all_finite(s.velocity(), s.size());
      })
      .def_property_readonly("size", &Sgd::size)
      .def_property_readonly("steps", &Sgd::steps);

  py::class_<Trainer>(m, "Trainer")
      .def(py::init(&make_trainer), py::arg("network"), py::arg("sgd"), py::arg("loss"), py::arg("batch_size"),
           py::keep_alive<1, 2>(), py::keep_alive<1, 3>())
      .def("run_epoch", &run_epoch_py, py::arg("X"), py::arg("y"),
           py::arg("sample_weight") = py::none(), py::arg("shuffle") = true, py::arg("seed") = 0,
           py::arg("epoch") = 0);

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

#ifdef MLPCORE_HAVE_CUDA
  bind_cuda(m);  // mlpcore._core.cuda
#endif
}
