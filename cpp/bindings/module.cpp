// pybind11 glue for mlpcore._core: numpy arrays in and out, argument checks
// that name the argument, and the GIL released around the numeric work. No
// math lives here. Python objects are only created or destroyed with the GIL
// held; inside a released section only raw pointers are touched.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "mlpcore/dispatch.h"
#include "mlpcore/elementwise.h"
#include "mlpcore/gemm.h"
#include "mlpcore/losses.h"
#include "mlpcore/network.h"
#include "mlpcore/sgd.h"
#include "mlpcore/threads.h"
#include "mlpcore/trainer.h"

namespace py = pybind11;
using namespace mlpcore;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using LabelArray = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) s << ",";
  s << ")";
  return s.str();
}

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// Converts `obj` to a C-contiguous float32 array (a copy only when it is not one
// already), after checking it is a real-valued array of the expected rank.
FloatArray as_floats(const char* name, const py::handle& obj, int ndim) {
  py::array arr = py::array::ensure(obj);
  if (!arr) throw py::type_error(std::string(name) + ": expected an array of numbers, got " +
                                 py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  const char kind = arr.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
    throw py::type_error(std::string(name) + ": expected a real numeric dtype (float32 preferred), got " +
                         dtype_str(arr));
  }
  if (ndim >= 0 && arr.ndim() != ndim) {
    throw py::value_error(std::string(name) + ": expected a " + std::to_string(ndim) +
                          "-d array, got shape " + shape_str(arr));
  }
  return FloatArray::ensure(arr);
}

void require_finite(const char* name, const FloatArray& a) {
  const float* p = a.data();
  for (py::ssize_t i = 0, n = a.size(); i < n; ++i) {
    if (!std::isfinite(p[i])) {
      throw py::value_error(std::string(name) + ": expected finite values, found " +
                            (std::isnan(p[i]) ? "NaN" : "inf") + " at flat index " + std::to_string(i));
    }
  }
}

Activation parse_activation(const std::string& name) {
  if (name == "identity" || name == "linear") return Activation::identity;
  if (name == "relu") return Activation::relu;
  if (name == "sigmoid" || name == "logistic") return Activation::sigmoid;
  if (name == "tanh") return Activation::tanh;
  throw py::value_error("activation: expected one of 'identity', 'relu', 'sigmoid', 'tanh', got '" +
                        name + "'");
}

LossKind parse_loss(const std::string& name) {
  if (name == "mse") return LossKind::mse;
  if (name == "cross_entropy") return LossKind::cross_entropy;
  if (name == "binary_cross_entropy") return LossKind::binary_cross_entropy;
  throw py::value_error("loss: expected one of 'mse', 'cross_entropy', 'binary_cross_entropy', got '" +
                        name + "'");
}

Init parse_init(const std::string& name) {
  if (name == "uniform") return Init::uniform_fan_in;
  if (name == "glorot_uniform") return Init::glorot_uniform;
  if (name == "he_uniform") return Init::he_uniform;
  throw py::value_error("init: expected one of 'uniform', 'glorot_uniform', 'he_uniform', got '" +
                        name + "'");
}

// ---------------------------------------------------------------- ops

FloatArray matmul(const py::handle& a_obj, const py::handle& b_obj, bool trans_a, bool trans_b,
                  float alpha, float beta, const py::object& c_obj) {
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
    py::gil_scoped_release release;
    sgemm(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, m, n, k, alpha, pa,
          a.shape(1), pb, b.shape(1), beta, pc, n);
  }
  return c;
}

// sgemm with its epilogue (bias + activation, or the activation derivative
// through a stored output) and the fused column sums of op(b); for tests and
// benchmarks of the fused kernels. Returns (c, column sums of op(b) or None).
py::tuple gemm_fused(const py::handle& a_obj, const py::handle& b_obj, bool trans_a, bool trans_b,
                     float alpha, float beta, const py::object& c_obj, const py::object& bias_obj,
                     const std::string& act, const py::object& act_output_obj, bool column_sums) {
  const Activation activation = parse_activation(act);
  FloatArray a = as_floats("a", a_obj, 2), b = as_floats("b", b_obj, 2);
  const std::size_t m = a.shape(trans_a ? 1 : 0), n = b.shape(trans_b ? 0 : 1);
  FloatArray c = matmul(a, b, trans_a, trans_b, 0.0f, 0.0f, py::none());  // checks shapes
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
    py::gil_scoped_release release;
    sgemm(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, m, n, k, alpha, pa,
          a.shape(1), pb, b.shape(1), beta, pc, n, ep);
  }
  return py::make_tuple(c, column_sums ? py::object(sums) : py::object(py::none()));
}

FloatArray activation_forward_py(const std::string& act, const py::handle& x_obj) {
  FloatArray x = as_floats("x", x_obj, -1);
  const Activation a = parse_activation(act);
  FloatArray y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const float* px = x.data();
  float* py_ = y.mutable_data();
  const std::size_t n = x.size();
  {
    py::gil_scoped_release release;
    activation_forward(a, n, px, py_);
  }
  return y;
}

FloatArray activation_backward_py(const std::string& act, const py::handle& y_obj,
                                  const py::handle& dy_obj) {
  FloatArray y = as_floats("y", y_obj, -1), dy = as_floats("dy", dy_obj, -1);
  const Activation a = parse_activation(act);
  if (!std::equal(y.shape(), y.shape() + y.ndim(), dy.shape()) || y.ndim() != dy.ndim()) {
    throw py::value_error("dy: expected the shape of y " + shape_str(y) + ", got " + shape_str(dy));
  }
  FloatArray dx(std::vector<py::ssize_t>(y.shape(), y.shape() + y.ndim()));
  const float *pyv = y.data(), *pdy = dy.data();
  float* pdx = dx.mutable_data();
  const std::size_t n = y.size();
  {
    py::gil_scoped_release release;
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
    py::gil_scoped_release release;
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
    py::array as64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
    const auto* p = static_cast<const std::int64_t*>(as64.data());
    for (std::size_t i = 0; i < rows; ++i) {
      if (p[i] < 0 || static_cast<std::size_t>(p[i]) >= cols) {
        throw py::value_error(std::string(name) + ": labels must be in [0, " + std::to_string(cols) +
                              "), got " + std::to_string(p[i]) + " at index " + std::to_string(i));
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

py::tuple loss_py(const std::string& loss_name, const py::handle& out_obj, const py::handle& t_obj,
                  const py::object& w_obj) {
  const LossKind loss = parse_loss(loss_name);
  FloatArray out = as_floats("output", out_obj, 2);
  const std::size_t rows = out.shape(0), cols = out.shape(1);
  if (rows == 0 || cols == 0) throw py::value_error("output: expected a non-empty array, got shape " + shape_str(out));
  CheckedTargets t = check_targets("target", t_obj, loss, rows, cols);
  const std::optional<FloatArray> w = check_weights(w_obj, rows);
  FloatArray grad({rows, cols});
  const float* po = out.data();
  const float* pw = w ? w->data() : nullptr;
  float* pg = grad.mutable_data();
  const Targets tv = t.view();
  double value;
  {
    py::gil_scoped_release release;
    const double norm = loss_normalizer(loss, rows, cols);
    value = loss_sum(loss, rows, cols, po, tv, pw, pg, static_cast<float>(1.0 / norm)) / norm;
  }
  return py::make_tuple(value, grad);
}

// ---------------------------------------------------------------- model

FloatArray check_inputs(const Network& net, const py::handle& obj, const char* name) {
  FloatArray x = as_floats(name, obj, 2);
  if (x.shape(0) == 0) throw py::value_error(std::string(name) + ": expected at least one row, got shape " + shape_str(x));
  if (static_cast<std::size_t>(x.shape(1)) != net.input_dim()) {
    throw py::value_error(std::string(name) + ": expected " + std::to_string(net.input_dim()) +
                          " features per row (the model's input_dim), got shape " + shape_str(x));
  }
  require_finite(name, x);
  return x;
}

std::unique_ptr<Network> make_network(std::size_t input_dim, const std::vector<std::size_t>& units,
                                      const std::vector<std::string>& acts,
                                      const std::vector<std::string>& inits, std::uint64_t seed) {
  if (units.size() != acts.size() || units.size() != inits.size()) {
    throw py::value_error("layers: units, activations and inits must have the same length");
  }
  std::vector<DenseSpec> specs;
  for (std::size_t i = 0; i < units.size(); ++i) {
    specs.push_back(DenseSpec{units[i], parse_activation(acts[i]), parse_init(inits[i])});
  }
  return std::make_unique<Network>(input_dim, std::move(specs), seed);
}

py::list get_params(const Network& net) {
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

void set_params(Network& net, const py::sequence& layers) {
  if (static_cast<std::size_t>(py::len(layers)) != net.num_layers()) {
    throw py::value_error("weights: expected " + std::to_string(net.num_layers()) +
                          " (W, b) pairs, got " + std::to_string(py::len(layers)));
  }
  std::vector<std::pair<FloatArray, FloatArray>> checked;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    py::sequence pair = layers[l];
    if (py::len(pair) != 2) throw py::value_error("weights[" + std::to_string(l) + "]: expected a (W, b) pair");
    FloatArray w = as_floats("W", pair[0], 2), b = as_floats("b", pair[1], 1);
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
    require_finite("weights", w);
    require_finite("weights", b);
    checked.emplace_back(w, b);
  }
  for (std::size_t l = 0; l < net.num_layers(); ++l) {  // all checked: now write
    std::copy_n(checked[l].first.data(), checked[l].first.size(), net.params() + net.weight_offset(l));
    std::copy_n(checked[l].second.data(), checked[l].second.size(), net.params() + net.bias_offset(l));
  }
}

FloatArray predict_py(const Network& net, const py::handle& x_obj, const std::string& transform) {
  FloatArray x = check_inputs(net, x_obj, "X");
  const std::size_t rows = x.shape(0), out_dim = net.output_dim();
  const bool raw = transform == "none";
  const LossKind kind = raw ? LossKind::mse : parse_loss(transform);
  FloatArray out({rows, out_dim});
  const float* px = x.data();
  float* po = out.mutable_data();
  {
    py::gil_scoped_release release;
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

CheckedData check_data(const Network& net, LossKind loss, const py::handle& x, const py::handle& y,
                       const py::object& w) {
  CheckedData d;
  d.x = check_inputs(net, x, "X");
  d.targets = check_targets("y", y, loss, d.x.shape(0), net.output_dim());
  d.weights = check_weights(w, d.x.shape(0));
  return d;
}

py::dict run_epoch_py(Trainer& trainer, const py::handle& x, const py::handle& y,
                      const py::object& w, bool shuffle, std::uint64_t seed, std::uint64_t epoch) {
  const CheckedData data = check_data(trainer.network(), trainer.loss(), x, y, w);
  // Ctrl-C: poll Python's signal handlers at most every 50 ms, with the GIL.
  auto last = std::chrono::steady_clock::now();
  bool signalled = false;
  std::function<bool()> interrupted = [&]() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::milliseconds(50)) return false;
    last = now;
    py::gil_scoped_acquire gil;
    signalled = PyErr_CheckSignals() != 0;
    return signalled;
  };
  EpochStats stats;
  const Dataset view = data.view();
  {
    py::gil_scoped_release release;
    stats = trainer.run_epoch(view, shuffle, seed, epoch, interrupted);
  }
  if (signalled) throw py::error_already_set();
  return stats_dict(stats);
}

py::dict evaluate_py(const Network& net, const std::string& loss_name, const py::handle& x,
                     const py::handle& y, const py::object& w) {
  const LossKind loss = parse_loss(loss_name);
  const CheckedData data = check_data(net, loss, x, y, w);
  EpochStats stats;
  const Dataset view = data.view();
  {
    py::gil_scoped_release release;
    stats = evaluate(net, loss, view);
  }
  return stats_dict(stats);
}

SgdConfig make_sgd_config(float lr, float momentum, float dampening, float weight_decay, bool nesterov) {
  SgdConfig c{lr, momentum, dampening, weight_decay, nesterov};
  validate(c);
  return c;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "mlpcore's native core: kernels, networks and the training loop.";
  m.attr("__version__") = MLPCORE_VERSION;

  m.def("config", []() {
    py::dict d;
    d["version"] = MLPCORE_VERSION;
    d["isa"] = isa_name(kernels().isa);
    py::list isas;
    for (Isa isa : supported_isas()) isas.append(isa_name(isa));
    d["isas"] = isas;
    d["threads"] = max_threads();
    d["openmp"] = openmp_enabled();
    py::dict cuda;
    cuda["compiled"] = false;
    cuda["devices"] = 0;
    d["cuda"] = cuda;
    const GemmBlocking b = kernels().sgemm_blocking;
    d["gemm_tile"] = py::make_tuple(b.mr, b.nr);
    return d;
  }, "Build and run-time configuration: version, ISA in use, supported ISAs, threads, OpenMP, CUDA.");
  m.def("set_isa", &select_isa, py::arg("name"),
        "Use the kernels of another instruction set this machine supports (for testing and benchmarks).");
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("n: expected a thread count >= 1, got " + std::to_string(n));
    set_num_threads(n);
  }, py::arg("n"));
  m.def("get_num_threads", &max_threads);

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
      .def("predict", &predict_py, py::arg("X"), py::arg("transform") = "none");

  py::class_<Sgd>(m, "Sgd")
      .def(py::init([](const Network& net, float lr, float momentum, float dampening, float weight_decay,
                       bool nesterov, bool decay_bias) {
             auto sgd = std::make_unique<Sgd>(make_sgd_config(lr, momentum, dampening, weight_decay, nesterov),
                                              net.param_count());
             if (!decay_bias) {
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
      .def("set_lr", [](Sgd& s, float lr) {
        SgdConfig c = s.config();
        c.lr = lr;
        s.set_config(c);
      }, py::arg("lr"))
      .def_property_readonly("steps", &Sgd::steps);

  py::class_<Trainer>(m, "Trainer")
      .def(py::init([](Network& net, Sgd& sgd, const std::string& loss, long long batch_size) {
             if (batch_size < 1) {
               throw py::value_error("batch_size: expected a positive integer, got " + std::to_string(batch_size));
             }
             return std::make_unique<Trainer>(net, sgd, parse_loss(loss), static_cast<std::size_t>(batch_size));
           }),
           py::arg("network"), py::arg("sgd"), py::arg("loss"), py::arg("batch_size"),
           py::keep_alive<1, 2>(), py::keep_alive<1, 3>())
      .def("run_epoch", &run_epoch_py, py::arg("X"), py::arg("y"),
           py::arg("sample_weight") = py::none(), py::arg("shuffle") = true, py::arg("seed") = 0,
           py::arg("epoch") = 0);

  m.def("evaluate", &evaluate_py, py::arg("network"), py::arg("loss"), py::arg("X"), py::arg("y"),
        py::arg("sample_weight") = py::none());
}
