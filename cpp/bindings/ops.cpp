// mlpcore._core's kernels on numpy arrays: the GEMM (plain and fused),
// activations, softmax, losses and the finiteness check, for tests, benchmarks
// and mlpcore.ops.
#include "ops.h"

#include <pybind11/numpy.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "busy.h"
#include "mlpcore/elementwise.h"
#include "mlpcore/losses.h"

namespace mlpcore::bindings {

namespace {

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

py::tuple gemm_fused(const py::handle& a_obj, const py::handle& b_obj, const py::handle& trans_a_obj,
                     const py::handle& trans_b_obj, const py::handle& alpha_obj, const py::handle& beta_obj,
                     const py::object& c_obj, const py::object& bias_obj, const py::handle& act,
                     const py::object& act_output_obj, const py::handle& column_sums_obj) {
  return gemm_fused_with(cpu_backend(), a_obj, b_obj, trans_a_obj, trans_b_obj, alpha_obj, beta_obj, c_obj, bias_obj, act,
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

// For the input checks in Python: X is checked on every predict and fit.
bool all_finite_py(const py::array_t<float, py::array::c_style | py::array::forcecast>& x) {
  return all_finite(x.data(), static_cast<std::size_t>(x.size()));
}

}  // namespace

py::tuple gemm_fused_with(const Backend& backend, const py::handle& a_obj, const py::handle& b_obj,
                          const py::handle& trans_a_obj, const py::handle& trans_b_obj, const py::handle& alpha_obj,
                          const py::handle& beta_obj, const py::object& c_obj, const py::object& bias_obj,
                          const py::handle& act, const py::object& act_output_obj,
                          const py::handle& column_sums_obj) {
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
  float* host_sums = ep.b_column_sums;
  {
    NativeSection native;
    DeviceBuffer<float> da(backend, 0), db(backend, 0), dc(backend, 0), dbias(backend, 0), dy(backend, 0),
        dsums(backend, 0);
    pa = stage_in(da, pa, a.size());
    pb = stage_in(db, pb, b.size());
    ep.bias = stage_in(dbias, ep.bias, n);
    ep.act_output = stage_in(dy, ep.act_output, m * n);
    float* out = const_cast<float*>(stage_in(dc, static_cast<const float*>(pc), m * n));
    if (host_sums && !backend.host_memory) {
      dsums.resize(n);
      ep.b_column_sums = dsums.data();
    }
    backend.sgemm(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, m, n, k, alpha, pa,
                  a.shape(1), pb, b.shape(1), beta, out, n, ep);
    if (out != pc) dc.download(pc, m * n);
    if (host_sums && ep.b_column_sums != host_sums) dsums.download(host_sums, n);
  }
  return py::make_tuple(c, column_sums ? py::object(sums) : py::object(py::none()));
}

void bind_ops(py::module_& m) {
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
}

}  // namespace mlpcore::bindings
