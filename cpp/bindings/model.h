// What the model bindings (model.cpp, optimizer_state.cpp) share: the size
// check, and an epoch run with the GIL released and Ctrl-C honoured, its stats
// as a dict.
#pragma once

#include <pybind11/functional.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <functional>

#include "busy.h"
#include "mlpcore/float_env.h"
#include "mlpcore/optimizer.h"
#include "mlpcore/trainer.h"

namespace mlpcore::bindings {

namespace py = pybind11;

// An optimizer is made for one network: `name` is the argument that does not match.
void require_same_size(const char* name, std::size_t optimizer_size, std::size_t param_count);

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

}  // namespace mlpcore::bindings
