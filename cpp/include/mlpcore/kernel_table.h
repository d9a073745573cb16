// The kernel interface: one table of function pointers per instruction set.
//
// Each ISA's translation unit fills a KernelTable with its own kernels; the
// dispatcher (dispatch.h) picks the best table the CPU and OS support, once.
// Only plain pointers and sizes cross this interface, never SIMD types.
#pragma once

#include <cstddef>

#include "mlpcore/optimizer_steps.h"

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

// What a micro-kernel does to its finished tile after C = alpha * A~ * B~ + beta * C,
// while the tile is still in registers. Pointers are already offset to the tile.
struct TileEpilogue {
  const float* bias = nullptr;          // nr-wide slice of the bias row; added when non-null
  bool relu = false;                    // then max(0, .) (NaN passes through)
  // Backward: multiply by act'(.) written through the stored output y = act(x)
  // (rows of y at stride ld_y): 1 for identity, y > 0 for ReLU, y (1 - y) for
  // sigmoid, 1 - y^2 for tanh. Off when y is null.
  Activation derivative = Activation::identity;
  const float* y = nullptr;
  std::ptrdiff_t ld_y = 0;
};

// C[m x n] := epilogue(alpha * A~ * B~ + beta * C), for m <= mr, n <= nr.
// a: the mr x kc sliver of A, element (i, p) at a[i * rs_a + p * cs_a]: a packed
//    sliver (rs_a = 1, cs_a = mr) or A used in place. Rows i >= m are never read.
// b: kc steps of nr floats (a row of the tile per step), rs_b floats apart: a
//    packed panel (rs_b = nr), zero-padded to full nr so the kernel computes
//    full-width rows and only the store is trimmed; or op(B) read in place
//    (rs_b = ldb) where it has nr columns, or, for a tile of at most
//    KernelTable::sgemm_b_in_place_cols columns, where it has n.
// beta == 0 never reads C. ep may be null (plain store).
using SgemmMicroKernel = void (*)(std::size_t kc, const float* a, std::ptrdiff_t rs_a,
                                  std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b,
                                  float* c, std::ptrdiff_t ldc, int m, int n, float alpha,
                                  float beta, const TileEpilogue* ep);

// Packs columns [0, cols) (cols <= nr) of rows [0, kb) of op(B) into dst as kb
// steps of nr floats, zero-padding columns cols..nr-1. b points at op(B)'s
// element (p0, j0); trans says B is stored transposed (op(B)(p, j) = b[j * ldb + p]).
using SgemmPackB = void (*)(bool trans, const float* b, std::size_t ldb, std::size_t cols,
                            std::size_t kb, float* dst);

// Packs rows [0, rows) (rows <= mr) of columns [0, kb) of op(A) into dst as kb
// steps of mr floats (one column of the sliver per step), zero-padding rows
// rows..mr-1. a points at op(A)'s element (i0, p0); trans says A is stored
// transposed (op(A)(i, p) = a[p * lda + i]).
using SgemmPackA = void (*)(bool trans, const float* a, std::size_t lda, std::size_t rows,
                            std::size_t kb, float* dst);

struct KernelTable {
  Isa isa;
  GemmBlocking sgemm_blocking;
  SgemmMicroKernel sgemm_ukr;
  SgemmPackA sgemm_pack_a;
  SgemmPackB sgemm_pack_b;
  // Where the driver lets sgemm_ukr read an untransposed B in place rather
  // than packing it: its full slivers for products of at most this many rows
  // (mr when smaller, 0 included), and a partial last sliver of at most
  // sgemm_b_in_place_cols columns, of which the kernel reads only those
  // (0: partial slivers are packed, zero-padded).
  int sgemm_b_in_place_rows;
  int sgemm_b_in_place_cols;

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
  // One optimizer update over n parameters, as optimizer_steps.h spells out
  // (PyTorch's arithmetic, every per-step scalar in the step struct). The arrays
  // must not overlap; an optional state pointer is null when the option is off:
  // max_exp_avg_sq unless amsgrad, grad_avg unless centered, momentum_buf unless
  // momentum > 0.
  void (*adam_step)(std::size_t n, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                    float* max_exp_avg_sq, const AdamStep& step);
  void (*rmsprop_step)(std::size_t n, float* param, const float* grad, float* square_avg, float* grad_avg,
                       float* momentum_buf, const RmspropStep& step);
  void (*adagrad_step)(std::size_t n, float* param, const float* grad, float* state_sum,
                       const AdagradStep& step);
  // The largest |x[i]| over n floats (0 when n == 0); infinity or NaN when
  // some x[i] is not finite. Exact, so any split of x gives the same answer.
  float (*max_abs)(std::size_t n, const float* x);
};

}  // namespace mlpcore
