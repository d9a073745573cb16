// NEON GEMM micro-kernel (aarch64): an 8 x 12 tile of C in 24 q-register
// accumulators, three B loads per step; A's column comes as two vector loads
// whose lanes FMLA broadcasts (packed A), or as scalars (A used in place).
#include <arm_neon.h>

#include <cstddef>

#include "../isa_fillers.h"

namespace {
#include "../pack_portable.h"
#include "../tile_store.h"

constexpr int kMR = 8;
constexpr int kNR = 12;

void sgemm_ukr_neon_8x12(std::size_t kc, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
                         const float* b, std::ptrdiff_t rs_b, float* c, std::ptrdiff_t ldc, int m,
                         int n, float alpha, float beta, const mlpcore::TileEpilogue* ep) {
  float32x4_t acc[kMR][3];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = acc[i][2] = vdupq_n_f32(0.0f);

  if (rs_a == 1 && m == kMR) {  // a column of the sliver is 8 consecutive floats
    for (std::size_t p = 0; p < kc; ++p) {
      const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
      const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
#define MLPCORE_NEON_ROW(i, av, lane)                           \
  acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, av, lane);         \
  acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, av, lane);         \
  acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, av, lane);
      MLPCORE_NEON_ROW(0, a0, 0) MLPCORE_NEON_ROW(1, a0, 1)
      MLPCORE_NEON_ROW(2, a0, 2) MLPCORE_NEON_ROW(3, a0, 3)
      MLPCORE_NEON_ROW(4, a1, 0) MLPCORE_NEON_ROW(5, a1, 1)
      MLPCORE_NEON_ROW(6, a1, 2) MLPCORE_NEON_ROW(7, a1, 3)
#undef MLPCORE_NEON_ROW
      a += cs_a;
      b += rs_b;
    }
  } else {
    // Rows past m repeat the last real row: computed, never stored, never out of bounds.
    const float* row[kMR];
    for (int i = 0; i < kMR; ++i) row[i] = a + (i < m ? i : m - 1) * rs_a;
    std::ptrdiff_t off = 0;
    for (std::size_t p = 0; p < kc; ++p) {
      const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
      for (int i = 0; i < kMR; ++i) {
        const float ai = row[i][off];
        acc[i][0] = vfmaq_n_f32(acc[i][0], b0, ai);
        acc[i][1] = vfmaq_n_f32(acc[i][1], b1, ai);
        acc[i][2] = vfmaq_n_f32(acc[i][2], b2, ai);
      }
      off += cs_a;
      b += rs_b;
    }
  }

  float tile[kMR * kNR];
  for (int i = 0; i < kMR; ++i) {
    vst1q_f32(tile + i * kNR, acc[i][0]);
    vst1q_f32(tile + i * kNR + 4, acc[i][1]);
    vst1q_f32(tile + i * kNR + 8, acc[i][2]);
  }
  store_tile(tile, kNR, c, ldc, m, n, alpha, beta, ep);
}

// A's sliver is the sliver of op(A)^T (pack_portable.h), mr wide.
void sgemm_pack_a_neon(bool trans, const float* a, std::size_t lda, std::size_t rows,
                       std::size_t kb, float* dst) {
  pack_sliver_portable<kMR>(!trans, a, lda, rows, kb, dst);
}

void sgemm_pack_b_neon(bool trans, const float* b, std::size_t ldb, std::size_t cols,
                       std::size_t kb, float* dst) {
  pack_sliver_portable<kNR>(trans, b, ldb, cols, kb, dst);
}

}  // namespace

namespace mlpcore {

void fill_sgemm_neon(KernelTable& table) {
  table.sgemm_ukr = sgemm_ukr_neon_8x12;
  table.sgemm_pack_a = sgemm_pack_a_neon;
  table.sgemm_pack_b = sgemm_pack_b_neon;
  table.sgemm_blocking = GemmBlocking{kMR, kNR, 128, 256, 2048};
}

}  // namespace mlpcore
