// The activations and their derivatives on the device, by run-time kind, over
// the scalar math the CPU kernels use (kernels/scalar_math.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mlpcore/kernel_table.h"

namespace mlpcore::cuda {

#include "../kernels/scalar_math.h"

__device__ __forceinline__ float activate(Activation act, float x) {
  switch (act) {
    case Activation::relu: return vrelu(x);
    case Activation::sigmoid: return vsigmoid(x);
    case Activation::tanh: return vtanh(x);
    default: return x;
  }
}

// d act / dx through y = act(x); ReLU's derivative at 0 is 0.
__device__ __forceinline__ float backprop(Activation act, float y, float dy) {
  switch (act) {
    case Activation::relu: return y > 0.0f ? dy : 0.0f;
    case Activation::sigmoid: return dy * (y * (1.0f - y));
    case Activation::tanh: return dy * ((1.0f - y) * (1.0f + y));  // accurate near |y| = 1, as on the CPU
    default: return dy;
  }
}

}  // namespace mlpcore::cuda
