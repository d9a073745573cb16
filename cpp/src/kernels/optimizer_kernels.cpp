// Whole-buffer optimizer updates: fixed pieces claimed by threads one at a
// time (a thread slowed by another process takes fewer); every element is
// updated on its own, and a piece always starts at the same offset, so neither
// the split nor the thread count changes a bit of the result.
#include "mlpcore/optimizer_kernels.h"

#include <algorithm>
#include <stdexcept>

#include "mlpcore/dispatch.h"
#include "mlpcore/threads.h"

namespace mlpcore {
namespace {

constexpr std::size_t kPiece = 1 << 15;  // floats per piece: each array's share fits L2

// Weights of one element's work for threads_for: a square root and a division
// cost several multiply-adds each, and an update moves 5 to 7 floats.
constexpr double kAdamFlops = 20.0, kRmspropFlops = 20.0, kAdagradFlops = 16.0;

template <class Body>
void for_pieces(std::size_t n, double flops_per_element, Body body) {
  const std::size_t pieces = (n + kPiece - 1) / kPiece;
  const int nt = pieces > 1 ? threads_for(flops_per_element * static_cast<double>(n)) : 1;
  parallel_for_dynamic(nt, pieces, [&](std::size_t i) {
    const std::size_t begin = i * kPiece;
    body(begin, std::min(kPiece, n - begin));
  });
}

}  // namespace

void adam_step(std::size_t n, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamStep& step) {
  const KernelTable& kt = kernels();
  for_pieces(n, kAdamFlops, [&](std::size_t b, std::size_t len) {
    kt.adam_step(len, param + b, grad + b, exp_avg + b, exp_avg_sq + b,
                 max_exp_avg_sq ? max_exp_avg_sq + b : nullptr, step);
  });
}

void rmsprop_step(std::size_t n, float* param, const float* grad, float* square_avg, float* grad_avg,
                  float* momentum_buf, const RmspropStep& step) {
  if ((step.momentum > 0.0f) != (momentum_buf != nullptr)) {
    throw std::invalid_argument("momentum_buf: expected a buffer exactly when momentum > 0");
  }
  const KernelTable& kt = kernels();
  for_pieces(n, kRmspropFlops, [&](std::size_t b, std::size_t len) {
    kt.rmsprop_step(len, param + b, grad + b, square_avg + b, grad_avg ? grad_avg + b : nullptr,
                    momentum_buf ? momentum_buf + b : nullptr, step);
  });
}

void adagrad_step(std::size_t n, float* param, const float* grad, float* state_sum, const AdagradStep& step) {
  const KernelTable& kt = kernels();
  for_pieces(n, kAdagradFlops, [&](std::size_t b, std::size_t len) {
    kt.adagrad_step(len, param + b, grad + b, state_sum + b, step);
  });
}

}  // namespace mlpcore
