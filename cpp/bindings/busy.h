// The concurrent-use guard (Use) and the scope of native work called from
// Python (NativeSection): the GIL released, the floating-point control set.
#pragma once

#include <pybind11/pybind11.h>

#include <stdexcept>

#include "mlpcore/float_env.h"

namespace mlpcore::bindings {

namespace py = pybind11;

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

// ---------------------------------------------------------------- concurrent use
// Numeric work runs with the GIL released, so Python threads can share a model.
// Reading it (predict, evaluate, get_params) from many threads at once is fine;
// changing it (a training epoch, set_params, optimizer state) needs it alone.
// Each native object has a use count: > 0 readers, -1 one writer.

// Raised (as mlpcore.ModelBusyError) when a Use conflicts with another.
class ModelBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One use of `object` for the scope's life; `what` names the operation in the error.
class Use {
 public:
  Use(const void* object, bool exclusive, const char* what);
  ~Use();
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

 private:
  const void* object_;
};

}  // namespace mlpcore::bindings
