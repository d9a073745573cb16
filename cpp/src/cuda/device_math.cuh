// Device twins of the scalar math in kernels/elementwise_impl.h: the same
// Cephes polynomials and the same branch structure, so a CUDA activation
// agrees with the CPU one to an ulp or two (nvcc fuses a*b+c into FMAs).
#pragma once

#include "mlpcore/kernel_table.h"

namespace mlpcore::cuda {

// exp(x): Cody-Waite reduction x = n ln2 + r, degree-6 minimax polynomial, 2^n in the exponent.
__device__ __forceinline__ float vexp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447504019f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  float n = __fsub_rn(__fadd_rn(xc * 1.44269504088896341f, round_magic), round_magic);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * (r * r) + r + 1.0f;
  y = y * __int_as_float((static_cast<int>(n) + 127) << 23);
  y = x < lo ? 0.0f : y;
  y = x > hi ? __int_as_float(0x7f800000) : y;
  return y;
}

__device__ __forceinline__ float vsigmoid(float x) {
  float ax = fabsf(x);
  float e = vexp(-ax);
  float s = 1.0f / (1.0f + e);
  return x < 0.0f ? e * s : s;
}

__device__ __forceinline__ float vtanh(float x) {
  float ax = fabsf(x);
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = p * z * x + x;
  float e = vexp(2.0f * (ax > 44.0f ? 44.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0.0f ? -big : big;
  return ax < 0.625f ? small : big;
}

// x < 0 ? 0 : x lets NaN through, as numpy and PyTorch do.
__device__ __forceinline__ float vrelu(float x) { return x < 0.0f ? 0.0f : x; }

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
