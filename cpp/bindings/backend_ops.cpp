// mlpcore._core.Backend: every Backend operation the nn layer uses, on host
// arrays (copied to the device's memory and back), so that one test suite
// checks every backend against the CPU and float64 references. Argument
// checks are those of mc.ops.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "busy.h"
#include "model.h"
#include "ops.h"
#include "optimizers.h"
#include "mlpcore/optimizer.h"
#include "mlpcore/backend.h"

namespace mlpcore::bindings {

namespace {

// A device's backend, as Python holds it.
struct BackendHandle {
  const Backend* backend;
};

std::vector<py::ssize_t> shape_of(const py::array& a) { return {a.shape(), a.shape() + a.ndim()}; }

template <class T>
py::array_t<T> download_array(const DeviceBuffer<T>& d, const T* direct, std::vector<py::ssize_t> shape) {
  py::array_t<T> out(shape);
  NativeSection native;
  if (direct) {
    std::copy_n(direct, out.size(), out.mutable_data());
  } else {
    d.download(out.mutable_data(), out.size());
  }
  return out;
}

// A host array in the backend's memory, as a buffer of its own (so that an
// operation that writes in place never writes the caller's array).
template <class T>
DeviceBuffer<T> uploaded(const Backend& backend, const T* host, std::size_t n) {
  DeviceBuffer<T> d(backend, n);
  NativeSection native;
  d.upload(host, n);
  return d;
}

py::tuple gemm_fused_py(const BackendHandle& self, const py::handle& a, const py::handle& b, const py::handle& ta,
                        const py::handle& tb, const py::handle& alpha, const py::handle& beta, const py::object& c,
                        const py::object& bias, const py::handle& act, const py::object& act_output,
                        const py::handle& column_sums) {
  return gemm_fused_with(*self.backend, a, b, ta, tb, alpha, beta, c, bias, act, act_output, column_sums);
}

FloatArray activation_backward_py(const BackendHandle& self, const py::handle& act, const py::handle& y_obj,
                                  const py::handle& dy_obj) {
  const Backend& backend = *self.backend;
  FloatArray y = as_floats("y", y_obj, -1), dy = as_floats("dy", dy_obj, -1);
  const Activation a = parse_activation(act);
  if (shape_of(y) != shape_of(dy)) {
    throw py::value_error("dy: expected the shape of y " + shape_str(y) + ", got " + shape_str(dy));
  }
  auto dev_y = uploaded(backend, y.data(), y.size());
  auto dev_dy = uploaded(backend, dy.data(), dy.size());
  {
    NativeSection native;
    backend.activation_backward(a, y.size(), dev_y.data(), dev_dy.data(), dev_dy.data());
  }
  return download_array<float>(dev_dy, nullptr, shape_of(y));
}

FloatArray output_transform_py(const BackendHandle& self, const py::handle& loss_obj, const py::handle& x_obj) {
  const Backend& backend = *self.backend;
  const LossKind loss = parse_loss(loss_obj);
  FloatArray x = as_floats("x", x_obj, 2);
  if (x.shape(1) == 0) throw py::value_error("x: expected at least one column, got shape " + shape_str(x));
  auto d = uploaded(backend, x.data(), x.size());
  {
    NativeSection native;
    backend.output_transform(loss, x.shape(0), x.shape(1), d.data());
  }
  return download_array<float>(d, nullptr, shape_of(x));
}

// (mean loss, gradient of the mean, correct predictions) of a batch, as training computes them.
py::tuple batch_loss_py(const BackendHandle& self, const py::handle& loss_name, const py::handle& out_obj,
                        const py::handle& t_obj, const py::object& w_obj) {
  const Backend& backend = *self.backend;
  const auto [loss, out, rows, cols, t, w] = check_loss_args(loss_name, out_obj, t_obj, w_obj);
  auto d_out = uploaded(backend, out.data(), out.size());
  DeviceBuffer<std::int32_t> d_labels(backend, 0);
  DeviceBuffer<float> d_dense(backend, 0), d_w(backend, 0), d_grad(backend, rows * cols);
  Targets tv;
  if (t.labels) {
    d_labels = uploaded(backend, t.labels->data(), rows);
    tv.labels = d_labels.data();
  } else {
    d_dense = uploaded(backend, t.dense->data(), rows * cols);
    tv.dense = d_dense.data();
  }
  if (w) d_w = uploaded(backend, w->data(), rows);
  DeviceBuffer<BatchResult> result(backend, 1);
  DeviceBuffer<Verdict> verdict(backend, 1);
  BatchResult r;
  Verdict v = 0;
  {
    NativeSection native;
    const double norm = loss_normalizer(loss, rows, cols);
    backend.batch_loss(loss, rows, cols, d_out.data(), tv, w ? d_w.data() : nullptr, d_grad.data(),
                       static_cast<float>(1.0 / norm), result.data(), verdict.data(),
                       verdict_code(0, Divergence::loss));
    result.download(&r, 1);
    verdict.download(&v, 1);
  }
  return py::make_tuple(r.loss, download_array<float>(d_grad, nullptr, shape_of(out)), r.correct, v != 0);
}

FloatArray gather_rows_py(const BackendHandle& self, const py::handle& x_obj, const py::handle& idx_obj) {
  const Backend& backend = *self.backend;
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
  auto dx = uploaded(backend, x.data(), x.size());
  auto di = uploaded(backend, idx.data(), idx.size());
  DeviceBuffer<float> out(backend, idx.size() * x.shape(1));
  {
    NativeSection native;
    backend.gather_rows(idx.size(), x.shape(1) * sizeof(float), dx.data(), di.data(), out.data());
  }
  return download_array<float>(out, nullptr, {static_cast<py::ssize_t>(idx.size()), x.shape(1)});
}

// Rows idx (every row in order when None) of a CSR matrix made dense by the
// backend, from a copy of its arrays in the backend's memory.
FloatArray gather_csr_rows_py(const BackendHandle& self, const py::handle& x_obj, const py::object& idx_obj) {
  const Backend& backend = *self.backend;
  if (!is_sparse(x_obj)) throw py::type_error("x: expected a scipy.sparse CSR matrix, got " + type_name(x_obj));
  const CheckedCsr x = check_csr("x", x_obj, std::nullopt);
  std::vector<std::uint32_t> idx;
  if (!idx_obj.is_none()) {
    py::array idx_any = py::array::ensure(idx_obj);
    if (!idx_any || idx_any.ndim() != 1 || (idx_any.dtype().kind() != 'i' && idx_any.dtype().kind() != 'u')) {
      throw py::type_error("idx: expected a 1-d array of integer row indices");
    }
    auto idx64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(idx_any);
    for (py::ssize_t i = 0; i < idx64.size(); ++i) {
      const std::int64_t r = idx64.data()[i];
      if (r < 0 || static_cast<std::size_t>(r) >= x.rows) {
        throw py::value_error("idx: row " + std::to_string(r) + " is out of range for x with " +
                              std::to_string(x.rows) + " rows");
      }
      idx.push_back(static_cast<std::uint32_t>(r));
    }
  }
  const std::size_t rows = idx_obj.is_none() ? x.rows : idx.size();
  DeviceBuffer<float> out(backend, rows * x.cols);
  {
    CsrStaging staging(backend);
    NativeSection native;
    const CsrRows csr = stage_in(staging, x.view(), x.rows);
    DeviceBuffer<std::uint32_t> di(backend, 0);
    di.upload(idx.data(), idx.size());
    backend.gather_csr_rows(rows, x.cols, csr, idx_obj.is_none() ? nullptr : di.data(), out.data());
  }
  return download_array<float>(out, nullptr, {static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(x.cols)});
}

// One update under the divergence rule on copies of the arrays: runs `u` (its
// settings filled in) with the given state slots (None: the slot is off) and
// returns (params, [state or None, ...], applied).
py::tuple run_update(const Backend& backend, OptimizerUpdate u, const py::handle& p_obj, const py::handle& g_obj,
                     const py::list& state_objs) {
  FloatArray p = as_floats("params", p_obj, 1), g = as_floats("grads", g_obj, 1);
  if (g.size() != p.size()) throw py::value_error("grads: expected the shape of params " + shape_str(p));
  if (state_objs.size() != static_cast<std::size_t>(kMaxStates)) {
    throw py::value_error("state: expected " + std::to_string(kMaxStates) + " slots (arrays or None)");
  }
  const std::size_t n = p.size();
  auto dp = uploaded(backend, p.data(), n), dg = uploaded(backend, g.data(), n);
  std::vector<DeviceBuffer<float>> states;
  states.reserve(kMaxStates);
  for (int k = 0; k < kMaxStates; ++k) {
    if (state_objs[k].is_none()) {
      states.emplace_back(backend, 0);
      continue;
    }
    const std::string name = "state[" + std::to_string(k) + "]";
    FloatArray s = as_floats(name.c_str(), state_objs[k], 1);
    if (s.size() != p.size()) throw py::value_error(name + ": expected the shape of params " + shape_str(p));
    states.push_back(uploaded(backend, s.data(), n));
    u.state[k] = states.back().data();
  }
  DeviceBuffer<Verdict> verdict(backend, 1);
  Verdict code = 0;
  {
    NativeSection native;
    const std::vector<DecaySpan> spans = decay_spans({}, n, backend.update_piece);
    UpdateGuard guard;
    u.spans = &spans;
    u.size = n;
    u.params = dp.data();
    u.grads = dg.data();
    backend.optimizer_update(u, guard, verdict.data(), verdict_code(0, Divergence::update));
    verdict.download(&code, 1);
  }
  py::list out_states;
  for (int k = 0; k < kMaxStates; ++k) {
    out_states.append(u.state[k] ? py::object(download_array<float>(states[k], nullptr, shape_of(p))) : py::none());
  }
  return py::make_tuple(download_array<float>(dp, nullptr, shape_of(p)), out_states, code == 0);
}

// One checked SGD update on copies of the arrays: (params, velocity, applied).
py::tuple sgd_update_py(const BackendHandle& self, const py::handle& p_obj, const py::handle& g_obj,
                        const py::handle& v_obj, const py::handle& lr, const py::handle& momentum,
                        const py::handle& dampening, const py::handle& weight_decay, const py::handle& nesterov,
                        const py::handle& first_obj) {
  OptimizerUpdate u;
  u.kind = OptimizerKind::sgd;
  u.sgd = make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
  u.first_step = bool_arg("first_step", first_obj);
  py::list states;
  states.append(v_obj);
  states.append(py::none());
  states.append(py::none());
  const py::tuple r = run_update(*self.backend, u, p_obj, g_obj, states);
  return py::make_tuple(r[0], py::list(r[1])[0], r[2]);
}

// One checked Adam / AdamW update (step: its number, 1 for the first): (params, [exp_avg, exp_avg_sq,
// max_exp_avg_sq or None], applied).
py::tuple adam_update_py(const BackendHandle& self, const py::handle& p, const py::handle& g, const py::handle& m,
                         const py::handle& v, const py::handle& vmax, const py::handle& lr, const py::handle& betas,
                         const py::handle& eps, const py::handle& weight_decay, const py::handle& decoupled,
                         const py::handle& step) {
  OptimizerUpdate u;
  u.kind = OptimizerKind::adam;
  const AdamConfig c = make_adam_config(lr, betas, eps, weight_decay, py::bool_(!vmax.is_none()), decoupled);
  u.adam = adam_step_scalars(c, static_cast<std::uint64_t>(int_arg("step", step, 1, 1LL << 62)));
  py::list states;
  states.append(m);
  states.append(v);
  states.append(vmax);
  return run_update(*self.backend, u, p, g, states);
}

float max_abs_py(const BackendHandle& self, const py::handle& x_obj) {
  const Backend& backend = *self.backend;
  FloatArray x = as_floats("x", x_obj, -1);
  auto d = uploaded(backend, x.data(), x.size());
  NativeSection native;
  return backend.max_abs(x.size(), d.data());
}

double time_sgemm_py(const BackendHandle& self, const py::handle& m_obj, const py::handle& n_obj,
                     const py::handle& k_obj, const py::handle& ta, const py::handle& tb, const py::handle& repeats,
                     const py::handle& bias, const py::handle& act) {
  const Backend& backend = *self.backend;
  if (!backend.time_sgemm) {
    throw py::value_error("device: '" + std::string(device_name(backend.device)) +
                          "' has no device-side timer; time it on the host (bench/compare_gemm.py)");
  }
  const auto m = static_cast<std::size_t>(int_arg("m", m_obj, 0, kMaxSize));
  const auto n = static_cast<std::size_t>(int_arg("n", n_obj, 0, kMaxSize));
  const auto k = static_cast<std::size_t>(int_arg("k", k_obj, 0, kMaxSize));
  const bool trans_a = bool_arg("trans_a", ta), trans_b = bool_arg("trans_b", tb), with_bias = bool_arg("bias", bias);
  const int reps = static_cast<int>(int_arg("repeats", repeats, 1, 1000000));
  const Activation a = parse_activation(act);
  NativeSection native;
  return backend.time_sgemm(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, m, n, k, reps,
                            with_bias, a);
}

}  // namespace

void bind_backend_ops(py::module_& m) {
  m.def("backend_devices", [] {
    std::vector<std::string> names{"cpu"};
    if (has_backend(Device::cuda)) names.emplace_back("cuda");
    return names;
  }, "The devices this build and machine have a backend for.");
  py::class_<BackendHandle>(m, "Backend", "A device's backend operations on host arrays, for tests.")
      .def(py::init([](const py::handle& device) { return BackendHandle{&parse_device(device)}; }), py::arg("device"))
      .def_property_readonly("device", [](const BackendHandle& h) { return std::string(device_name(h.backend->device)); })
      .def("gemm_fused", &gemm_fused_py, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
           py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("c") = py::none(),
           py::arg("bias") = py::none(), py::arg("activation") = "identity", py::arg("act_output") = py::none(),
           py::arg("column_sums") = false)
      .def("activation_backward", &activation_backward_py, py::arg("activation"), py::arg("y"), py::arg("dy"))
      .def("output_transform", &output_transform_py, py::arg("loss"), py::arg("x"))
      .def("batch_loss", &batch_loss_py, py::arg("loss"), py::arg("output"), py::arg("target"),
           py::arg("sample_weight") = py::none(), "(mean loss, gradient, correct predictions, diverged) of one batch.")
      .def("gather_rows", &gather_rows_py, py::arg("x"), py::arg("idx"))
      .def("gather_csr_rows", &gather_csr_rows_py, py::arg("x"), py::arg("idx") = py::none(),
           "Rows idx (all, in order, when None) of a scipy.sparse CSR matrix as dense float32 rows.")
      .def("sgd_update", &sgd_update_py, py::arg("params"), py::arg("grads"), py::arg("velocity"), py::arg("lr"),
           py::arg("momentum") = 0.0f, py::arg("dampening") = 0.0f, py::arg("weight_decay") = 0.0f,
           py::arg("nesterov") = false, py::arg("first_step") = true,
           "One update under the divergence rule on copies: (params, velocity, applied).")
      .def("adam_update", &adam_update_py, py::arg("params"), py::arg("grads"), py::arg("exp_avg"),
           py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"), py::arg("lr"), py::arg("betas"), py::arg("eps"),
           py::arg("weight_decay"), py::arg("decoupled"), py::arg("step"),
           "One Adam / AdamW update under the divergence rule on copies: (params, state slots, applied).")
      .def("max_abs", &max_abs_py, py::arg("x"))
      .def("time_sgemm", &time_sgemm_py, py::arg("m"), py::arg("n"), py::arg("k"), py::arg("trans_a") = false,
           py::arg("trans_b") = false, py::arg("repeats") = 10, py::arg("bias") = false,
           py::arg("activation") = "identity", "Seconds per SGEMM call on device-resident operands (benchmarks).");
}

}  // namespace mlpcore::bindings
