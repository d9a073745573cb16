// Portable GEMM micro-kernel: a 4 x 16 tile in plain C++ the compiler keeps in
// vector registers (SSE2 on any x86-64, NEON on aarch64): the fallback on CPUs
// the dispatcher does not know, and MLPCORE_ISA=generic. Like the SIMD kernels,
// it is tested against a float64 numpy reference (tests/test_gemm.py), not
// used as theirs.
#include <cstddef>

#include "../isa_fillers.h"

namespace {
#include "../pack_portable.h"
#include "../tile_store.h"

constexpr int kMR = 4;
constexpr int kNR = 16;

void sgemm_ukr_generic_4x16(std::size_t kc, const float* a, std::ptrdiff_t rs_a,
                            std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b, float* c,
                            std::ptrdiff_t ldc,
                            int m, int n, float alpha, float beta,
                            const mlpcore::TileEpilogue* ep) {
  // Rows past m repeat the last real row: computed, never stored, never out of bounds.
  const float* row[kMR];
  for (int i = 0; i < kMR; ++i) row[i] = a + (i < m ? i : m - 1) * rs_a;
  float acc[kMR][kNR] = {};
  std::ptrdiff_t off = 0;
  for (std::size_t p = 0; p < kc; ++p) {
    for (int i = 0; i < kMR; ++i) {
      const float ai = row[i][off];
      for (int j = 0; j < kNR; ++j) acc[i][j] += ai * b[j];
    }
    off += cs_a;
    b += rs_b;
  }
  store_tile(&acc[0][0], kNR, c, ldc, m, n, alpha, beta, ep);
}

// A's sliver is the sliver of op(A)^T (pack_portable.h), mr wide.
void sgemm_pack_a_generic(bool trans, const float* a, std::size_t lda, std::size_t rows,
                          std::size_t kb, float* dst) {
  pack_sliver_portable<kMR>(!trans, a, lda, rows, kb, dst);
}

void sgemm_pack_b_generic(bool trans, const float* b, std::size_t ldb, std::size_t cols,
                          std::size_t kb, float* dst) {
  pack_sliver_portable<kNR>(trans, b, ldb, cols, kb, dst);
}

}  // namespace

namespace mlpcore {

void fill_sgemm_generic(KernelTable& table) {
  table.sgemm_ukr = sgemm_ukr_generic_4x16;
  table.sgemm_pack_a = sgemm_pack_a_generic;
  table.sgemm_pack_b = sgemm_pack_b_generic;
  table.sgemm_blocking = GemmBlocking{kMR, kNR, 128, 256, 2048};
}

}  // namespace mlpcore
