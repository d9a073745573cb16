// The parts of mlpcore._core, each defined in its own file and called from
// PYBIND11_MODULE (module.cpp).
#pragma once

#include <pybind11/pybind11.h>

namespace mlpcore::bindings {

void bind_ops(pybind11::module_& m);    // ops.cpp: kernels on numpy arrays
void bind_model(pybind11::module_& m);  // model.cpp: Network, Sgd, Trainer, evaluate, ...
void bind_full_batch(pybind11::module_& m);  // full_batch.cpp: full_batch_gradients
#ifdef MLPCORE_HAVE_CUDA
void bind_cuda(pybind11::module_& m);   // cuda.cpp: the submodule mlpcore._core.cuda
#endif

}  // namespace mlpcore::bindings
