// AVX2 + FMA GEMM micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators,
// two B loads and one A broadcast per row and step (15 of 16 registers).
#include <immintrin.h>

#include <cstddef>

#include "../isa_fillers.h"

namespace {
#include "../tile_store.h"

constexpr int kMR = 6;
constexpr int kNR = 16;

void sgemm_ukr_avx2_6x16(std::size_t kc, const float* a, const float* b, float* c,
                         std::ptrdiff_t ldc, int m, int n, float alpha, float beta) {
  __m256 acc[kMR][2];
#pragma GCC unroll 6
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();

  for (std::size_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(b);
    const __m256 b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < kMR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += kMR;
    b += kNR;
  }

  const __m256 va = _mm256_set1_ps(alpha);
  if (m == kMR && n == kNR) {
    const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < kMR; ++i) {
      float* ci = c + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, acc[i][0]);
      __m256 r1 = _mm256_mul_ps(va, acc[i][1]);
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
      }
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
    }
    return;
  }
  alignas(32) float tile[kMR * kNR];
#pragma GCC unroll 6
  for (int i = 0; i < kMR; ++i) {
    _mm256_store_ps(tile + i * kNR, acc[i][0]);
    _mm256_store_ps(tile + i * kNR + 8, acc[i][1]);
  }
  store_tile(tile, kNR, c, ldc, m, n, alpha, beta);
}

}  // namespace

namespace mlpcore {

void fill_sgemm_avx2(KernelTable& table) {
  table.sgemm_ukr = sgemm_ukr_avx2_6x16;
  // kc: a 16 x 256 B sliver (16 KiB) stays in a 32 KiB L1; mc: a 144 x 256
  // A block (144 KiB) in L2; nc: a 256 x 2048 B panel (2 MiB) in L3.
  table.sgemm_blocking = GemmBlocking{kMR, kNR, 144, 256, 2048};
}

}  // namespace mlpcore
