// Losses and their gradients in one pass on the CPU, row by row with the
// formulas of loss_rows.h. Output layers are narrow (a few to a few hundred
// columns), so these are portable code; the exp that cross-entropy needs comes
// from the dispatched softmax kernel, in float.
#include "mlpcore/losses.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "mlpcore/dispatch.h"
#include "mlpcore/loss_rows.h"

namespace mlpcore {

double loss_normalizer(LossKind kind, std::size_t rows, std::size_t cols) {
  return kind == LossKind::cross_entropy ? static_cast<double>(rows)
                                         : static_cast<double>(rows) * static_cast<double>(cols);
}

namespace {

// Softmax probabilities of `rows` rows into p with the dispatched (vectorised)
// kernel; without a gradient buffer they go to per-thread scratch that only grows.
const float* softmax_block(std::size_t rows, std::size_t cols, const float* z, float* grad) {
  if (grad) {
    kernels().softmax_rows(rows, cols, z, grad);
    return grad;
  }
  thread_local std::vector<float> scratch;
  if (scratch.size() < rows * cols) scratch.resize(rows * cols);
  kernels().softmax_rows(rows, cols, z, scratch.data());
  return scratch.data();
}

}  // namespace

double loss_sum(LossKind kind, std::size_t rows, std::size_t cols, const float* out,
                const Targets& targets, const float* row_weight, float* grad, float grad_scale) {
  double total = 0.0;
  const float* probs = kind == LossKind::cross_entropy ? softmax_block(rows, cols, out, grad) : nullptr;
  for (std::size_t r = 0; r < rows; ++r) {
    total += loss_rows::weighted(kind, cols, out + r * cols, probs ? probs + r * cols : nullptr,
                                 targets.labels ? targets.labels + r : nullptr,
                                 targets.dense ? targets.dense + r * cols : nullptr,
                                 row_weight ? row_weight[r] : 1.0f, grad ? grad + r * cols : nullptr, grad_scale);
  }
  return total;
}

std::size_t correct_count(LossKind kind, std::size_t rows, std::size_t cols, const float* out,
                          const Targets& targets) {
  std::size_t n = 0;
  if (kind == LossKind::mse) return 0;
  for (std::size_t r = 0; r < rows; ++r) {
    n += static_cast<std::size_t>(loss_rows::correct(kind, cols, out + r * cols,
                                                     targets.labels ? targets.labels + r : nullptr,
                                                     targets.dense ? targets.dense + r * cols : nullptr));
  }
  return n;
}

void output_transform(LossKind kind, std::size_t rows, std::size_t cols, float* out) {
  const KernelTable& kt = kernels();
  if (kind == LossKind::cross_entropy) {
    kt.softmax_rows(rows, cols, out, out);
  } else if (kind == LossKind::binary_cross_entropy) {
    kt.act_forward(Activation::sigmoid, rows * cols, out, out);
  }
}

}  // namespace mlpcore
