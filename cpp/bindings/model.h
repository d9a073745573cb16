// What the CUDA bindings share with the CPU model bindings (model.cpp): one
// wording of each check and the run/evaluate/predict scaffolding, written once
// for both networks (Net: a Network or a cuda::CudaNetwork).
#pragma once

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "args.h"
#include "busy.h"
#include "mlpcore/float_env.h"
#include "mlpcore/losses.h"
#include "mlpcore/sgd.h"
#include "mlpcore/trainer.h"

namespace mlpcore::bindings {

namespace py = pybind11;

SgdConfig make_sgd_config(const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                          const py::handle& weight_decay, const py::handle& nesterov);

// An optimizer is made for one network: `name` is the argument that does not match.
void require_same_size(const char* name, std::size_t optimizer_size, std::size_t param_count);

// Sgd(..., decay_bias=False): the biases are exempt from weight decay.
template <class Optimizer, class Net>
void exempt_biases(Optimizer& sgd, const Net& net) {
  std::vector<std::pair<std::size_t, std::size_t>> biases;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    biases.emplace_back(net.bias_offset(l), net.bias_offset(l) + net.fan_out(l));
  }
  sgd.set_decay_exempt(biases);
}

py::dict stats_dict(const EpochStats& s);

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

// predict(X, transform): `run(x, rows, out, transform)` fills the outputs.
template <class Net, class Predict>
FloatArray predict_checked(const Net& net, Predict run, const py::handle& x_obj, const py::handle& transform) {
  FloatArray x = check_inputs(net, x_obj, "X");
  const std::size_t rows = x.shape(0), out_dim = net.output_dim();
  const std::optional<LossKind> kind = parse_transform(transform);
  Use use(&net, false, "predict");
  FloatArray out({rows, out_dim});
  const float* px = x.data();
  float* po = out.mutable_data();
  {
    NativeSection native;
    run(px, rows, po, kind);
  }
  return out;
}

// evaluate(network, loss, X, y, sample_weight): `run(net, loss, data)` computes the stats.
template <class Net, class Evaluate>
py::dict evaluate_checked(const Net& net, Evaluate run, const py::handle& loss_name, const py::handle& x,
                          const py::handle& y, const py::object& w) {
  const LossKind loss = parse_loss(loss_name);
  const CheckedData data = check_data(net, loss, x, y, w);
  Use use(&net, false, "evaluate");
  EpochStats stats;
  const Dataset view = data.view();
  {
    NativeSection native;
    stats = run(net, loss, view);
  }
  return stats_dict(stats);
}

}  // namespace mlpcore::bindings
