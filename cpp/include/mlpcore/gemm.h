// Single-precision matrix multiply on row-major matrices:
//   C = act(alpha * op(A) * op(B) + beta * C + bias)
// with op = identity or transpose, so backprop's X*W, X^T*dY and dY*W^T never
// materialise a transpose. Results do not depend on the thread count: work is
// split over rows and columns of C only, never over the shared dimension.
#pragma once

#include <cstddef>
#include <stdexcept>

#include "mlpcore/kernel_table.h"

namespace mlpcore {

enum class Trans : bool { no = false, yes = true };

// Applied to each finished tile of C while it is in registers (or, for sigmoid
// and tanh, still in L1). The forward pass uses bias + act:
//   C = act(alpha * op(A) * op(B) + beta * C + bias).
// The backward pass of a Dense layer uses the other two fields:
//   dZ = (dY * W^T) (.) act'(.)  with act_output = Y = act(Z) of that layer, and
//   dW = X^T * dZ  with b_column_sums = db (the bias gradient, no extra pass).
struct Epilogue {
  const float* bias = nullptr;  // length n, added to every row; may be null
  Activation act = Activation::identity;
  // If non-null: C = (alpha * op(A) * op(B) + beta * C) (.) act'(Y), the derivative
  // of `act` written through its output Y (m x n, row stride ld_act_output), the
  // same as activation_backward. bias must then be null (a logic error otherwise).
  const float* act_output = nullptr;
  std::size_t ld_act_output = 0;
  // If non-null: receives the n column sums of op(B) (sums over k, unscaled by
  // alpha), computed while B is packed; summed in a fixed order.
  float* b_column_sums = nullptr;
};

// Every backend's sgemm refuses an epilogue it cannot apply: a bias (added to
// the product) together with an activation derivative (which multiplies it).
inline void check_epilogue(const Epilogue& ep) {
  if (ep.act_output && ep.bias) {
    throw std::invalid_argument("epilogue: a bias cannot be combined with an activation derivative");
  }
}

// op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are row strides of the
// stored (untransposed) arrays. k == 0 gives C = beta * C (then the epilogue).
void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc, const Epilogue& epilogue = Epilogue{});

}  // namespace mlpcore
