// The parts of mlpcore._core, each defined in its own file and called from
// PYBIND11_MODULE (module.cpp).
#pragma once

#include <pybind11/pybind11.h>

namespace mlpcore::bindings {

void bind_ops(pybind11::module_& m);    // ops.cpp: kernels on numpy arrays
void bind_optimizers(pybind11::module_& m);  // optimizers.cpp: optimizer updates, settings checks
void bind_model(pybind11::module_& m);  // model.cpp: Network, Trainer, evaluate, ...
void bind_optimizer_state(pybind11::module_& m);  // optimizer_state.cpp: Optimizer (any kind), Sgd
void bind_backend_ops(pybind11::module_& m);  // backend_ops.cpp: mlpcore._core.Backend
void bind_full_batch(pybind11::module_& m);  // full_batch.cpp: full_batch_gradients

}  // namespace mlpcore::bindings
