// The CUDA backend: device memory and the CUDA kernels behind the Backend
// table (backend.h). Nothing above the kernels lives here: the Network,
// optimizers and Trainer of cpp/src/nn/ run on it as on the CPU.
#pragma once

#include "mlpcore/backend.h"

namespace mlpcore::cuda {

// Throws CudaError (device.h) when no device is usable.
const Backend& backend();

}  // namespace mlpcore::cuda
