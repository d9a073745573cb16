// The kernel interface: one table of function pointers per instruction set.
//
// Each ISA's translation unit fills a KernelTable with its own kernels; the
// dispatcher (dispatch.h) picks the best table the CPU and OS support, once.
// Only plain pointers and sizes cross this interface, never SIMD types.
#pragma once

#include <cstddef>

namespace mlpcore {

enum class Activation : int { identity = 0, relu = 1, sigmoid = 2, tanh = 3 };

enum class Isa : int { generic = 0, neon = 1, avx2 = 2, avx512 = 3 };

// Register-block (mr x nr) and cache-block (mc, kc, nc) sizes of a GEMM
// micro-kernel, kept as data so the one driver serves every ISA.
struct GemmBlocking {
  int mr, nr;  // micro-tile of C held in registers
  int mc;      // rows of A packed per block (fits L2)
  int kc;      // depth of a packed panel (an mr x kc sliver of A fits L1)
  int nc;      // columns of B packed per block (fits L3)
};

// C[m x n] := alpha * A~ * B~ + beta * C, for m <= mr, n <= nr.
// a: packed panel, kc steps of mr floats (column of the tile per step).
// b: packed panel, kc steps of nr floats (row of the tile per step).
// Panels are zero-padded to full mr / nr, so the kernel always computes a full tile
// and only the store is trimmed to m x n. beta == 0 never reads C.
using SgemmMicroKernel = void (*)(std::size_t kc, const float* a, const float* b, float* c,
                                  std::ptrdiff_t ldc, int m, int n, float alpha, float beta);

struct KernelTable {
  Isa isa;
  GemmBlocking sgemm_blocking;
  SgemmMicroKernel sgemm_ukr;

  // y[i] = act(x[i] + bias[i % cols]) over a rows x cols block with row stride ld.
  // bias may be null. In place when x == y.
  void (*bias_act_rows)(Activation act, std::size_t rows, std::size_t cols, const float* bias,
                        float* y, std::ptrdiff_t ld);
  // y = act(x), elementwise; y may alias x.
  void (*act_forward)(Activation act, std::size_t n, const float* x, float* y);
  // dx = dy * act'(.), the derivative written in terms of the output y = act(x).
  // dx may alias dy.
  void (*act_backward)(Activation act, std::size_t n, const float* y, const float* dy, float* dx);
  // Row-wise softmax of a rows x cols block (contiguous rows); y may alias x.
  void (*softmax_rows)(std::size_t rows, std::size_t cols, const float* x, float* y);
  // acc[j] += sum over rows of x[r, j] (contiguous rows of cols floats).
  void (*column_sums)(std::size_t rows, std::size_t cols, const float* x, float* acc);
  // One SGD step over n parameters, torch.optim.SGD semantics (see nn/sgd.cpp).
  void (*sgd_step)(std::size_t n, float* param, const float* grad, float* velocity, float lr,
                   float momentum, float dampening, float weight_decay, bool nesterov,
                   bool first_step);
};

}  // namespace mlpcore
