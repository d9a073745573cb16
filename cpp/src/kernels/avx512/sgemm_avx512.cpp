// AVX-512 GEMM micro-kernel: a 12 x 32 tile of C in 24 zmm accumulators,
// two B loads and one A broadcast per row and step (27 of 32 registers).
// Edge tiles narrower than 32 columns are stored through masks.
#include <immintrin.h>

#include <cstddef>

#include "../isa_fillers.h"

namespace {
#include "../tile_store.h"

constexpr int kMR = 12;
constexpr int kNR = 32;

void sgemm_ukr_avx512_12x32(std::size_t kc, const float* a, const float* b, float* c,
                            std::ptrdiff_t ldc, int m, int n, float alpha, float beta) {
  __m512 acc[kMR][2];
#pragma GCC unroll 12
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();

  for (std::size_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < kMR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += kMR;
    b += kNR;
  }

  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
  const int n0 = n < 16 ? n : 16;
  const int n1 = n - n0;
  const __mmask16 k0 = static_cast<__mmask16>((1u << n0) - 1u);
  const __mmask16 k1 = static_cast<__mmask16>((1u << n1) - 1u);
#pragma GCC unroll 12
  for (int i = 0; i < kMR; ++i) {
    if (i < m) {
      float* ci = c + i * ldc;
      __m512 r0 = _mm512_mul_ps(va, acc[i][0]);
      __m512 r1 = _mm512_mul_ps(va, acc[i][1]);
      if (beta != 0.0f) {
        r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k0, ci), r0);
        r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k1, ci + 16), r1);
      }
      _mm512_mask_storeu_ps(ci, k0, r0);
      _mm512_mask_storeu_ps(ci + 16, k1, r1);
    }
  }
}

}  // namespace

namespace mlpcore {

void fill_sgemm_avx512(KernelTable& table) {
  table.sgemm_ukr = sgemm_ukr_avx512_12x32;
  // kc: a 32 x 256 B sliver (32 KiB) stays in a 48 KiB L1; mc: a 192 x 256
  // A block (192 KiB) in L2; nc: a 256 x 4096 B panel (4 MiB) in L3.
  table.sgemm_blocking = GemmBlocking{kMR, kNR, 192, 256, 4096};
}

}  // namespace mlpcore
