// Losses with their gradients, fused: one pass computes both.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mlpcore {

enum class LossKind : int {
  mse = 0,                   // mean over all elements of (y - t)^2
  cross_entropy = 1,         // softmax on logits, then -sum t log p; mean over rows
  binary_cross_entropy = 2,  // sigmoid on logits, elementwise; mean over all elements
  poisson = 3,               // Poisson deviance with a log link: exp(z) - t z, mean over all elements
};

// What the outputs are compared with: class indices (cross-entropy only,
// one per row, in [0, cols)) or a dense rows x cols array (probabilities,
// one-hot rows, 0/1 labels or regression targets).
struct Targets {
  const std::int32_t* labels = nullptr;
  const float* dense = nullptr;
};

// Throws std::invalid_argument saying what the targets of `kind` must be unless
// each one is: labels in [0, cols); Poisson targets >= 0 (counts or rates);
// binary cross-entropy targets in [0, 1]
// (the loss and its gradient sigmoid(z) - t are those of a probability);
// cross-entropy target rows probabilities summing to 1 (the fused gradient
// softmax(z) - t is only the gradient of -sum t log softmax(z) for those).
void check_targets(LossKind kind, std::size_t rows, std::size_t cols, const Targets& targets);

// The divisor that turns a sum of losses into the mean the loss is defined as:
// rows for cross-entropy, rows * cols for the elementwise losses.
double loss_normalizer(LossKind kind, std::size_t rows, std::size_t cols);

// Sum over the block of per-element (per-row for cross-entropy) losses, each
// multiplied by row_weight[r] when row_weight is not null. If grad is not null,
// writes grad_scale * d(sum)/d(out) into it (rows x cols). `out` holds logits for
// the two cross-entropies and predictions for MSE. Summation order is fixed
// (row by row), so the result does not depend on threads.
double loss_sum(LossKind kind, std::size_t rows, std::size_t cols, const float* out,
                const Targets& targets, const float* row_weight, float* grad, float grad_scale);

// Correct predictions in a block of raw outputs (loss_rows::correct, row by row).
std::size_t correct_count(LossKind kind, std::size_t rows, std::size_t cols, const float* out,
                          const Targets& targets);

// Turns logits into what predict() returns: softmax rows for cross-entropy,
// elementwise sigmoid for binary cross-entropy, exp (the mean) for Poisson,
// unchanged for MSE.
void output_transform(LossKind kind, std::size_t rows, std::size_t cols, float* out);

}  // namespace mlpcore
