// SGEMM on the GPU: C = act(alpha * op(A) * op(B) + beta * C + bias), row-major.
//
// Classic two-level tiling. A block owns a BM x BN tile of C and walks the
// shared dimension BK at a time: it stages op(A)[BM x BK] and op(B)[BK x BN] in
// shared memory (k-major, so the inner loop reads a row of each), and every
// thread keeps a TM x TN sub-tile of C in registers. The next slices are loaded
// from global memory into registers while the current ones are multiplied
// (double-buffered shared memory, one barrier per slice). A thread's rows (and
// columns) come in runs of 4 consecutive ones, runs strided by BM / groups, so
// the inner loop reads shared memory 16 bytes at a time: one wide read feeds 4
// rows, which keeps shared-memory traffic well under the FMA rate. Global loads
// are scalar, coalesced and bounds-checked, so any shape, stride, transpose and
// alignment works. The epilogue of gemm.h is applied while the result is still
// in registers: bias + activation (forward), or the activation derivative read
// from a stored output (backward); the column sums of op(B) (the bias
// gradient) are a separate fixed-order pass.
#include <algorithm>
#include <limits>
#include <stdexcept>

#include "check.cuh"
#include "device_math.cuh"
#include "kernels.cuh"
#include "mlpcore/gemm.h"

namespace mlpcore::cuda {
namespace {

// G consecutive floats of shared memory (G = 4, 2 or 1) in one read.
template <int G>
__device__ __forceinline__ void read_run(const float* src, float* dst) {
  if constexpr (G == 4) {
    const float4 v = *reinterpret_cast<const float4*>(src);
    dst[0] = v.x, dst[1] = v.y, dst[2] = v.z, dst[3] = v.w;
  } else if constexpr (G == 2) {
    const float2 v = *reinterpret_cast<const float2*>(src);
    dst[0] = v.x, dst[1] = v.y;
  } else {
    dst[0] = src[0];
  }
}

template <bool TA, bool TB, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    sgemm_tiled(int m, int n, int k, float alpha, const float* __restrict__ A, long long lda,
                const float* __restrict__ B, long long ldb, float beta, float* __restrict__ C,
                long long ldc, const float* __restrict__ bias, Activation act,
                const float* __restrict__ act_output, long long ld_act) {
  constexpr int TX = BN / TN, TY = BM / TM, NT = TX * TY;
  constexpr int A_LOADS = BM * BK / NT, B_LOADS = BK * BN / NT;
  static_assert(BM * BK % NT == 0 && BK * BN % NT == 0, "tile loads must divide evenly");
  // Runs of GM rows (GN columns) per thread, RM (RN) runs spread over the tile.
  constexpr int GM = TM < 4 ? TM : 4, GN = TN < 4 ? TN : 4, RM = TM / GM, RN = TN / GN;
  static_assert(TY * GM * RM == BM && TX * GN * RN == BN, "runs must tile the block");
  // +4 pads rows apart in the banks (and keeps them 16-byte aligned for the wide reads).
  __shared__ __align__(16) float As[2][BK][BM + 4];
  __shared__ __align__(16) float Bs[2][BK][BN + 4];

  const int tid = threadIdx.x, tx = tid % TX, ty = tid / TX;
  const int row0 = blockIdx.x * BM, col0 = blockIdx.y * BN;
  // Tile-local row of the thread's i-th accumulator row, column of its j-th.
  auto row_of = [&](int i) { return (i / GM) * (BM / RM) + ty * GM + i % GM; };
  auto col_of = [&](int j) { return (j / GN) * (BN / RN) + tx * GN + j % GN; };

  float a_reg[A_LOADS], b_reg[B_LOADS];
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  // Element e of a slice, numbered so that consecutive threads read
  // consecutive addresses of the stored (untransposed) array.
  auto a_coord = [](int idx, int& i, int& p) {
    if (TA) { p = idx / BM; i = idx % BM; } else { i = idx / BK; p = idx % BK; }
  };
  auto b_coord = [](int idx, int& p, int& j) {
    if (TB) { j = idx / BK; p = idx % BK; } else { p = idx / BN; j = idx % BN; }
  };
  auto load = [&](int k0) {
#pragma unroll
    for (int e = 0; e < A_LOADS; ++e) {
      int i, p;
      a_coord(tid + e * NT, i, p);
      const int gi = row0 + i, gp = k0 + p;
      a_reg[e] = (gi < m && gp < k) ? (TA ? A[gp * lda + gi] : A[gi * lda + gp]) : 0.0f;
    }
#pragma unroll
    for (int e = 0; e < B_LOADS; ++e) {
      int p, j;
      b_coord(tid + e * NT, p, j);
      const int gp = k0 + p, gj = col0 + j;
      b_reg[e] = (gp < k && gj < n) ? (TB ? B[gj * ldb + gp] : B[gp * ldb + gj]) : 0.0f;
    }
  };
  auto stage = [&](int buf) {
#pragma unroll
    for (int e = 0; e < A_LOADS; ++e) {
      int i, p;
      a_coord(tid + e * NT, i, p);
      As[buf][p][i] = a_reg[e];
    }
#pragma unroll
    for (int e = 0; e < B_LOADS; ++e) {
      int p, j;
      b_coord(tid + e * NT, p, j);
      Bs[buf][p][j] = b_reg[e];
    }
  };

  load(0);
  stage(0);
  __syncthreads();
  const int slices = (k + BK - 1) / BK;
  for (int s = 0; s < slices; ++s) {
    const int buf = s & 1;
    const bool more = s + 1 < slices;
    if (more) load((s + 1) * BK);  // in flight while this slice is multiplied
#pragma unroll
    for (int p = 0; p < BK; ++p) {
      float a_col[TM], b_row[TN];
#pragma unroll
      for (int r = 0; r < RM; ++r) read_run<GM>(&As[buf][p][row_of(r * GM)], a_col + r * GM);
#pragma unroll
      for (int r = 0; r < RN; ++r) read_run<GN>(&Bs[buf][p][col_of(r * GN)], b_row + r * GN);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a_col[i], b_row[j], acc[i][j]);
    }
    // The other buffer was last read in slice s - 1, which every thread
    // finished before the barrier that ended it: safe to overwrite now.
    if (more) stage(buf ^ 1);
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int r = row0 + row_of(i);
    if (r >= m) continue;
    float* c_row = C + r * ldc;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int c = col0 + col_of(j);
      if (c >= n) continue;
      float v = alpha * acc[i][j];
      if (beta != 0.0f) v += beta * c_row[c];
      if (act_output) {
        c_row[c] = backprop(act, act_output[r * ld_act + c], v);
      } else {
        if (bias) v += bias[c];
        c_row[c] = activate(act, v);
      }
    }
  }
}

struct Shape {
  int m, n, k;
  float alpha;
  const float* a;
  long long lda;
  const float* b;
  long long ldb;
  float beta;
  float* c;
  long long ldc;
  const float* bias;
  Activation act;
  const float* act_output;
  long long ld_act;
};

template <bool TA, bool TB, int BM, int BN, int BK, int TM, int TN>
void launch(const Shape& s) {
  const dim3 grid((s.m + BM - 1) / BM, (s.n + BN - 1) / BN);
  sgemm_tiled<TA, TB, BM, BN, BK, TM, TN><<<grid, (BM / TM) * (BN / TN)>>>(
      s.m, s.n, s.k, s.alpha, s.a, s.lda, s.b, s.ldb, s.beta, s.c, s.ldc, s.bias, s.act, s.act_output, s.ld_act);
  check_launch("sgemm_tiled");
}

// Three tile sizes; the largest that still gives every multiprocessor a block
// wins (small MLP layers need the small tiles to fill the GPU at all).
enum class Tile { large, medium, small };

template <bool TA, bool TB>
void launch_tile(Tile t, const Shape& s) {
  switch (t) {
    case Tile::large: return launch<TA, TB, 128, 128, 16, 8, 8>(s);
    case Tile::medium: return launch<TA, TB, 64, 64, 16, 4, 4>(s);
    case Tile::small: return launch<TA, TB, 32, 32, 16, 2, 2>(s);
  }
}

int multiprocessors() {
  static const int count = [] {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
      cudaGetLastError();
      return 80;
    }
    return n;
  }();
  return count;
}

// sums[j] = sum over p of op(B)[p, j], p in order. With B stored transposed
// (n x k) a thread walks its own row; otherwise the column-sum kernel does it.
__global__ void b_row_sums_kernel(std::size_t n, std::size_t k, const float* __restrict__ b, std::size_t ldb,
                                  float* __restrict__ sums) {
  for (std::size_t j = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; j < n;
       j += std::size_t{gridDim.x} * blockDim.x) {
    const float* row = b + j * ldb;
    float s = 0.0f;
    for (std::size_t p = 0; p < k; ++p) s += row[p];
    sums[j] = s;
  }
}

void b_column_sums(bool trans_b, std::size_t k, std::size_t n, const float* b, std::size_t ldb, float* sums) {
  if (!trans_b) return column_sums_strided(k, n, b, ldb, sums);
  b_row_sums_kernel<<<blocks_for(n), kThreads>>>(n, k, b, ldb, sums);
  check_launch("b_row_sums_kernel");
}

// A larger tile does more FMAs per shared-memory read, so it wins as long as
// it still puts a block on about two thirds of the multiprocessors (docs/cuda.md
// has the measurements behind the rule).
Tile choose_tile(int m, int n) {
  auto tiles = [&](int b) { return static_cast<long long>((m + b - 1) / b) * ((n + b - 1) / b); };
  const long long enough = (2LL * multiprocessors() + 2) / 3;
  if (tiles(128) >= enough) return Tile::large;
  if (tiles(64) >= enough) return Tile::medium;
  return Tile::small;
}

}  // namespace

void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc, const Epilogue& epilogue) {
  check_epilogue(epilogue);
  if (epilogue.b_column_sums && n > 0) b_column_sums(trans_b == Trans::yes, k, n, b, ldb, epilogue.b_column_sums);
  if (m == 0 || n == 0) return;
  constexpr std::size_t kMax = std::numeric_limits<int>::max();
  if (m > kMax || n > kMax || k > kMax) {
    throw std::invalid_argument("cuda::sgemm: each dimension must be below 2^31");
  }
  if (n > 65535u * 32u) {  // column tiles go on grid.y, which stops at 65535
    throw std::invalid_argument("cuda::sgemm: at most 2097120 columns");
  }
  // alpha == 0 reads neither A nor B (NaN in them stays out), as on the CPU:
  // the product of a k == 0 shape is C = beta * C, then the epilogue.
  if (alpha == 0.0f) k = 0;
  // Tile indices are int; offsets are 64-bit (lda etc. are long long).
  const Shape s{static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
                static_cast<long long>(lda), b, static_cast<long long>(ldb), beta, c,
                static_cast<long long>(ldc), epilogue.bias, epilogue.act, epilogue.act_output,
                static_cast<long long>(epilogue.ld_act_output)};
  const Tile t = choose_tile(s.m, s.n);
  const bool ta = trans_a == Trans::yes, tb = trans_b == Trans::yes;
  if (!ta && !tb) return launch_tile<false, false>(t, s);
  if (!ta && tb) return launch_tile<false, true>(t, s);
  if (ta && !tb) return launch_tile<true, false>(t, s);
  return launch_tile<true, true>(t, s);
}

}  // namespace mlpcore::cuda
