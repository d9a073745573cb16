// mlpcore._core.cuda: the CUDA kernels on host arrays (copied to the device and
// back, so that tests compare each with the CPU one) and the device Network,
// Sgd and Trainer. Compiled only in the CUDA build (MLPCORE_CUDA=ON).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "busy.h"
#include "model.h"
#include "ops.h"
#include "mlpcore/cuda/device.h"
#include "mlpcore/cuda/kernels.h"
#include "mlpcore/cuda/network.h"
#include "mlpcore/cuda/sgd.h"
#include "mlpcore/cuda/trainer.h"

namespace mlpcore::bindings {

namespace {

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
  return predict_checked(net, [&net](const float* x, std::size_t rows, float* out, std::optional<LossKind> kind) {
    net.predict(x, rows, out, kind);
  }, x_obj, transform);
}

py::dict cuda_evaluate_py(const cuda::CudaNetwork& net, const py::handle& loss_name, const py::handle& x,
                          const py::handle& y, const py::object& w) {
  return evaluate_checked(net, [](const cuda::CudaNetwork& n, LossKind loss, const Dataset& data) {
    return cuda::evaluate(n, loss, data);
  }, loss_name, x, y, w);
}

std::unique_ptr<cuda::CudaSgd> make_cuda_sgd(const cuda::CudaNetwork& net, const py::handle& lr,
                                             const py::handle& momentum, const py::handle& dampening,
                                             const py::handle& weight_decay, const py::handle& nesterov,
                                             const py::handle& decay_bias) {
  const SgdConfig c = make_sgd_config(lr, momentum, dampening, weight_decay, nesterov);
  const bool decay_biases = bool_arg("decay_bias", decay_bias);
  auto sgd = std::make_unique<cuda::CudaSgd>(c, net.param_count());
  if (!decay_biases) exempt_biases(*sgd, net);
  return sgd;
}

std::unique_ptr<cuda::CudaTrainer> make_cuda_trainer(cuda::CudaNetwork& net, cuda::CudaSgd& sgd,
                                                     const py::handle& loss_obj, const py::handle& batch_obj) {
  const LossKind loss = parse_loss(loss_obj);
  const auto batch = static_cast<std::size_t>(int_arg("batch_size", batch_obj, 1, kMaxSize));
  require_same_size("sgd", sgd.size(), net.param_count());
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

}  // namespace

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

}  // namespace mlpcore::bindings
