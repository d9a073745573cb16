// The scalar math of the activations and of softmax, written once for the CPU
// kernels (kernels/elementwise_impl.h, compiled once per ISA, where the loops
// around these calls vectorise) and the CUDA ones (cuda/device_math.cuh, where
// every function is __host__ __device__): the same Cephes polynomials and the
// same branch structure, so a CUDA activation agrees with the CPU one to an ulp
// or two (each compiler fuses a*b+c into an FMA where its flags let it).
//
// Included inside a namespace (on the CPU an anonymous one per ISA: keep
// elementwise_impl.h's rules here, branch-free selects and no inline library
// calls), so it includes nothing: the includer brings <cstddef>, <cstdint>
// and <cstring>.
#pragma once

#if defined(__CUDACC__)
#define MLPCORE_SCALAR_MATH __host__ __device__ __forceinline__
#else
#define MLPCORE_SCALAR_MATH inline
#endif

MLPCORE_SCALAR_MATH float bits_to_float(std::int32_t i) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(i);
#else
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
#endif
}

// (a + b) - b: a rounded to an integer when b is 1.5 * 2^23. No CPU build
// reorders it (no -ffast-math; the SIMD copies may fuse the product making `a`
// into the add); on the device __fadd_rn / __fsub_rn keep nvcc from doing either.
MLPCORE_SCALAR_MATH float round_with(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(__fadd_rn(a, b), b);
#else
  return (a + b) - b;
#endif
}

// exp(x): Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6
// minimax polynomial (Cephes expf) and 2^n built in the exponent bits.
MLPCORE_SCALAR_MATH float vexp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447504019f;
  // Clamped so that NaN becomes hi: converting NaN to an integer (below) is
  // undefined behaviour. NaN is given back at the end.
  float xc = x < hi ? x : hi;
  xc = xc > lo ? xc : lo;
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  float n = round_with(xc * 1.44269504088896341f, round_magic);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * (r * r) + r + 1.0f;
  y = y * bits_to_float((static_cast<std::int32_t>(n) + 127) << 23);
  y = x < lo ? 0.0f : y;
  y = x > hi ? __builtin_inff() : y;
  y = x == x ? y : x;
  return y;
}

// 1 / (1 + exp(-x)), written so neither branch cancels: for x < 0 it is
// e / (1 + e) with e = exp(x), which keeps full relative accuracy.
MLPCORE_SCALAR_MATH float vsigmoid(float x) {
  float ax = x < 0.0f ? -x : x;
  float e = vexp(-ax);
  float s = 1.0f / (1.0f + e);
  return x < 0.0f ? e * s : s;
}

// tanh: odd polynomial near 0 (Cephes tanhf, |x| < 0.625), else
// 1 - 2 / (exp(2|x|) + 1) with the sign restored.
MLPCORE_SCALAR_MATH float vtanh(float x) {
  float ax = x < 0.0f ? -x : x;
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

// Written as x < 0 ? 0 : x so that NaN passes through, as in numpy and PyTorch.
MLPCORE_SCALAR_MATH float vrelu(float x) { return x < 0.0f ? 0.0f : x; }

// One row of softmax, stable for large logits: exp(x - max(x)) / sum, in this order.
MLPCORE_SCALAR_MATH void softmax_row(std::size_t cols, const float* x, float* y) {
  float m = x[0];
  for (std::size_t j = 1; j < cols; ++j) m = x[j] > m ? x[j] : m;
  float sum = 0.0f;
  for (std::size_t j = 0; j < cols; ++j) {
    y[j] = vexp(x[j] - m);
    sum += y[j];
  }
  const float inv = 1.0f / sum;
  for (std::size_t j = 0; j < cols; ++j) y[j] *= inv;
}
