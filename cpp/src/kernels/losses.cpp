// Losses and their gradients in one pass on the CPU, row by row with the
// formulas of loss_rows.h. Output layers are narrow (a few to a few hundred
// columns), so these are portable code; the exp that cross-entropy needs comes
// from the dispatched softmax kernel, in float.
#include "mlpcore/losses.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "mlpcore/dispatch.h"
#include "mlpcore/loss_rows.h"

namespace mlpcore {

double loss_normalizer(LossKind kind, std::size_t rows, std::size_t cols) {
  return kind == LossKind::cross_entropy ? static_cast<double>(rows)
                                         : static_cast<double>(rows) * static_cast<double>(cols);
}

namespace {

// Python's repr of a float32 value (as a Python float): the shortest decimal
// that reads back as the same double, with ".0" on whole numbers.
std::string python_repr(float v) {
  char text[40];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(v));
    if (std::strtod(text, nullptr) == static_cast<double>(v)) break;
  }
  std::string s(text);
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

}  // namespace

void check_targets(LossKind kind, std::size_t rows, std::size_t cols, const Targets& t) {
  if (t.labels) {
    for (std::size_t i = 0; i < rows; ++i) {
      if (t.labels[i] < 0 || static_cast<std::size_t>(t.labels[i]) >= cols) {
        bad("labels must be in [0, " + std::to_string(cols) + "), got " + std::to_string(t.labels[i]) +
            " at index " + std::to_string(i));
      }
    }
    return;
  }
  if (kind == LossKind::poisson) {
    for (std::size_t i = 0, n = rows * cols; i < n; ++i) {
      if (!(t.dense[i] >= 0.0f)) {
        bad("Poisson targets must be >= 0 (counts or rates), got " + python_repr(t.dense[i]) + " at flat index " +
            std::to_string(i));
      }
    }
  }
  if (kind == LossKind::binary_cross_entropy) {
    for (std::size_t i = 0, n = rows * cols; i < n; ++i) {
      if (!(t.dense[i] >= 0.0f && t.dense[i] <= 1.0f)) {
        bad("binary cross-entropy targets must be in [0, 1], got " + python_repr(t.dense[i]) + " at flat index " +
            std::to_string(i));
      }
    }
  }
  if (kind == LossKind::cross_entropy) {
    for (std::size_t r = 0; r < rows; ++r) {
      double sum = 0.0;
      for (std::size_t j = 0; j < cols; ++j) {
        const float v = t.dense[r * cols + j];
        if (v < 0.0f) {
          bad("cross-entropy targets must be probabilities >= 0, got " + std::to_string(v) + " in row " +
              std::to_string(r));
        }
        sum += v;
      }
      if (std::fabs(sum - 1.0) > 1e-3) {
        bad("cross-entropy target rows must sum to 1 (one-hot or probabilities), row " + std::to_string(r) +
            " sums to " + std::to_string(sum));
      }
    }
  }
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
  if (kind == LossKind::mse || kind == LossKind::poisson) return 0;
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
  } else if (kind == LossKind::poisson) {
    for (std::size_t i = 0, n = rows * cols; i < n; ++i) out[i] = std::exp(out[i]);
  }
}

}  // namespace mlpcore
