// Portable GEMM micro-kernel: a 4 x 16 tile in plain C++ the compiler keeps in
// vector registers (SSE2 on any x86-64, NEON on aarch64). The fallback on CPUs
// the dispatcher does not know, and the reference the SIMD kernels are tested
// against.
#include <cstddef>

#include "../isa_fillers.h"

namespace {
#include "../tile_store.h"

constexpr int kMR = 4;
constexpr int kNR = 16;

void sgemm_ukr_generic_4x16(std::size_t kc, const float* a, const float* b, float* c,
                            std::ptrdiff_t ldc, int m, int n, float alpha, float beta) {
  float acc[kMR][kNR] = {};
  for (std::size_t p = 0; p < kc; ++p) {
    for (int i = 0; i < kMR; ++i) {
      const float ai = a[i];
      for (int j = 0; j < kNR; ++j) acc[i][j] += ai * b[j];
    }
    a += kMR;
    b += kNR;
  }
  store_tile(&acc[0][0], kNR, c, ldc, m, n, alpha, beta);
}

}  // namespace

namespace mlpcore {

void fill_sgemm_generic(KernelTable& table) {
  table.sgemm_ukr = sgemm_ukr_generic_4x16;
  table.sgemm_blocking = GemmBlocking{kMR, kNR, 128, 256, 2048};
}

}  // namespace mlpcore
