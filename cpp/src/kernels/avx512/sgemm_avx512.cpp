// AVX-512 GEMM micro-kernel: a 12 x 32 tile of C in 24 zmm accumulators,
// two B loads and one A broadcast per row and step (27 of 32 registers); the
// last rows of a product in 8 or 4 rows of accumulators. Edge tiles and the
// epilogue (bias, ReLU, activation derivative) are done in registers, partial
// rows through masks.
#include <immintrin.h>

#include <cstddef>

#include "../isa_fillers.h"

namespace {
#include "../tile_store.h"
#include "../pack_x86.h"

constexpr int kMR = 12;
constexpr int kNR = 32;

inline __mmask16 lane_mask(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF)
                 : static_cast<__mmask16>(n <= 0 ? 0u : (1u << n) - 1u);
}

// TileEpilogue on 16 columns of one row (bias already loaded).
inline __m512 apply_epilogue(__m512 v, const mlpcore::TileEpilogue& ep, __m512 bias,
                             const float* y, __mmask16 mask) {
  using mlpcore::Activation;
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
  if (ep.bias) v = _mm512_add_ps(v, bias);
  if (ep.relu) v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);
  if (ep.y) {
    const __m512 yv = _mm512_maskz_loadu_ps(mask, y);
    switch (ep.derivative) {
      case Activation::relu:
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(yv, zero, _CMP_GT_OQ), v);
        break;
      case Activation::sigmoid: v = _mm512_mul_ps(v, _mm512_mul_ps(yv, _mm512_sub_ps(one, yv))); break;
      case Activation::tanh:  // (1 - y)(1 + y): accurate near |y| = 1 (elementwise_impl.h)
        v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_sub_ps(one, yv), _mm512_add_ps(one, yv)));
        break;
      case Activation::identity: break;
    }
  }
  return v;
}

// The tile computed with R rows of accumulators (R = 12 for full tiles; 8 or 4
// for the last rows of a product, e.g. rows 24-31 of a batch of 32, which
// would otherwise cost a whole 12-row tile). Every R sums in the same order, so
// a row of C is bitwise the same wherever it sits in the batch.
// B's rows are STEP floats apart (kNR: packed), or rs_b apart when STEP is 0.
// V is the vectors of 16 columns computed per row: 2, or 1 for a tile of at
// most 16 columns (the 10 of an output layer), which then issues half the
// FMAs; each lane sums as with V = 2, so the result is bitwise the same.
template <int R, int STEP, int V>
void tile_rows(std::size_t kc, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
               const float* b, std::ptrdiff_t rs_b, float* c, std::ptrdiff_t ldc, int m, int n,
               float alpha, float beta, const mlpcore::TileEpilogue* ep) {
  const std::ptrdiff_t b_step = STEP ? STEP : rs_b;
  __m512 acc[R][V];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    acc[i][0] = _mm512_setzero_ps();
    if constexpr (V == 2) acc[i][1] = _mm512_setzero_ps();
  }

  // Rows past m repeat the last real row: computed, never stored, never out of bounds.
  const float* row[R];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) row[i] = a + (i < m ? i : m - 1) * rs_a;
  // Start fetching the C tile now; it is read (beta != 0) or written after the
  // k loop. Rows of a large C, ldc apart, are rarely still cached from the last
  // k slice, and waiting for them after the loop cost a tenth of the time of
  // 1024- and 2048-squares. A short k loop (k = 10 in an output layer's
  // input gradient) could not hide the fetch anyway.
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    if (i < m && kc >= 32) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 8 * V), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16 * V - 1), _MM_HINT_T0);
    }
  }

  std::ptrdiff_t off = 0;
  for (std::size_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = V == 2 ? _mm512_loadu_ps(b + 16) : b0;
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(row[i][off]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      if constexpr (V == 2) acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    off += cs_a;
    b += b_step;
  }

  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
  const __mmask16 k0 = lane_mask(n), k1 = lane_mask(n - 16);
  __m512 bias0 = _mm512_setzero_ps(), bias1 = bias0;
  if (ep && ep->bias) {
    bias0 = _mm512_maskz_loadu_ps(k0, ep->bias);
    if constexpr (V == 2) bias1 = _mm512_maskz_loadu_ps(k1, ep->bias + 16);
  }
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    if (i < m) {
      float* ci = c + i * ldc;
      __m512 r0 = _mm512_mul_ps(va, acc[i][0]);
      if (beta != 0.0f) r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k0, ci), r0);
      const float* yi = ep && ep->y ? ep->y + i * ep->ld_y : nullptr;
      if (ep) r0 = apply_epilogue(r0, *ep, bias0, yi, k0);
      _mm512_mask_storeu_ps(ci, k0, r0);
      if constexpr (V == 2) {
        __m512 r1 = _mm512_mul_ps(va, acc[i][1]);
        if (beta != 0.0f) r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k1, ci + 16), r1);
        if (ep) r1 = apply_epilogue(r1, *ep, bias1, yi ? yi + 16 : nullptr, k1);
        _mm512_mask_storeu_ps(ci + 16, k1, r1);
      }
    }
  }
}

void sgemm_ukr_avx512_12x32(std::size_t kc, const float* a, std::ptrdiff_t rs_a,
                            std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b, float* c,
                            std::ptrdiff_t ldc, int m, int n, float alpha, float beta,
                            const mlpcore::TileEpilogue* ep) {
  call_tile<kMR, 8, 4, kNR>(m, rs_b, [&](auto rows, auto step) {
    constexpr int R = decltype(rows)::value, STEP = decltype(step)::value;
    if (n <= 16) {
      tile_rows<R, STEP, 1>(kc, a, rs_a, cs_a, b, rs_b, c, ldc, m, n, alpha, beta, ep);
    } else {
      tile_rows<R, STEP, 2>(kc, a, rs_a, cs_a, b, rs_b, c, ldc, m, n, alpha, beta, ep);
    }
  });
}

// A's sliver is the sliver of op(A)^T (tile_store.h), mr wide.
void sgemm_pack_a_avx512(bool trans, const float* a, std::size_t lda, std::size_t rows,
                         std::size_t kb, float* dst) {
  pack_sliver_x86<kMR>(!trans, a, lda, rows, kb, dst);
}

void sgemm_pack_b_avx512(bool trans, const float* b, std::size_t ldb, std::size_t cols,
                         std::size_t kb, float* dst) {
  pack_sliver_x86<kNR>(trans, b, ldb, cols, kb, dst);
}

}  // namespace

namespace mlpcore {

void fill_sgemm_avx512(KernelTable& table) {
  table.sgemm_ukr = sgemm_ukr_avx512_12x32;
  table.sgemm_pack_a = sgemm_pack_a_avx512;
  table.sgemm_pack_b = sgemm_pack_b_avx512;
  // kc: a 32 x 256 B sliver (32 KiB) stays in a 48 KiB L1; mc: a 192 x 256
  // A block (192 KiB) in L2; nc: a 256 x 4096 B panel (4 MiB) in L3.
  table.sgemm_blocking = GemmBlocking{kMR, kNR, 192, 256, 4096};
}

}  // namespace mlpcore
