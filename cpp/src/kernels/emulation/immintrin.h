// Stand-in for <immintrin.h> in the test build that emulates AVX-512
// (cmake -DMLPCORE_EMULATE_AVX512=ON): this folder is put first on the include
// path of the AVX-512 kernel files, which then compile without -mavx512* flags
// against SIMDe (SIMD Everywhere) in portable mode and run, slowly, on any
// x86-64. Never part of a release build.
//
// Where SIMDe's portable code differs from the hardware, the versions below
// follow the hardware (Intel SDM, Intrinsics Guide):
// - SIMDe 0.7.4 lacks the masked 512-bit load and store, and its
//   _mm256_maskload_ps reads all 8 lanes before masking. Ours touch only the
//   lanes whose mask bit is set (masked-off lanes never fault), so a kernel
//   that relies on masking to stay inside a buffer is emulated faithfully, and
//   the sanitizers still see any access that is not masked off.
// - SIMDe's _mm512_fmadd_ps rounds the product and then the sum; VFMADD rounds
//   once. Ours is fused, as the hardware's.
// What stays different: with FMA available, GCC may also fuse a separate
// multiply and add (in an epilogue, in the elementwise loops) into one FMA;
// the emulation rounds twice there, as the generic build does. And
// elementwise_avx512.cpp has no intrinsics: emulated, it is the portable loops
// compiled for baseline x86-64, so it checks its source, not AVX-512 codegen.
#pragma once

#define SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_NO_NATIVE
#include <simde/x86/avx512.h>
#include <simde/x86/fma.h>

typedef simde__mmask16 __mmask16;

// Lanes i with bit i of k set are loaded from p; the others are zero.
static inline __m512 _mm512_maskz_loadu_ps(__mmask16 k, const void* p) {
  const float* src = static_cast<const float*>(p);
  float lanes[16] = {};
  for (int i = 0; i < 16; ++i) {
    if ((k >> i) & 1) lanes[i] = src[i];
  }
  return simde_mm512_loadu_ps(lanes);
}

// Lanes i with bit i of k set are stored to p; memory under the others is untouched.
static inline void _mm512_mask_storeu_ps(void* p, __mmask16 k, __m512 a) {
  float* dst = static_cast<float*>(p);
  float lanes[16];
  simde_mm512_storeu_ps(lanes, a);
  for (int i = 0; i < 16; ++i) {
    if ((k >> i) & 1) dst[i] = lanes[i];
  }
}

// Lanes whose mask element has its sign bit set are loaded from p; the others are zero.
#undef _mm256_maskload_ps
static inline __m256 _mm256_maskload_ps(const float* p, __m256i mask) {
  int bits[8];
  simde_mm256_storeu_si256(reinterpret_cast<simde__m256i*>(bits), mask);
  float lanes[8] = {};
  for (int i = 0; i < 8; ++i) {
    if (bits[i] < 0) lanes[i] = p[i];
  }
  return simde_mm256_loadu_ps(lanes);
}

// a * b + c rounded once, lane by lane.
#undef _mm512_fmadd_ps
static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
  float x[16], y[16], z[16];
  simde_mm512_storeu_ps(x, a);
  simde_mm512_storeu_ps(y, b);
  simde_mm512_storeu_ps(z, c);
  for (int i = 0; i < 16; ++i) x[i] = __builtin_fmaf(x[i], y[i], z[i]);
  return simde_mm512_loadu_ps(x);
}
