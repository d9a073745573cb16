// Elementwise kernels over whole arrays, split across threads where it pays.
// Each forwards to the dispatched KernelTable (kernel_table.h).
#pragma once

#include <cstddef>

#include "mlpcore/kernel_table.h"

namespace mlpcore {

void activation_forward(Activation act, std::size_t n, const float* x, float* y);
void activation_backward(Activation act, std::size_t n, const float* y, const float* dy, float* dx);
void softmax(std::size_t rows, std::size_t cols, const float* x, float* y);
// out[j] = sum over rows of x[r, j]; the order of summation is fixed.
void column_sums(std::size_t rows, std::size_t cols, const float* x, float* out);
// max |x[i]| (0 for n == 0); infinite or NaN exactly when some value is not
// finite. Exact, so the same for any thread count.
float max_abs(std::size_t n, const float* x);

}  // namespace mlpcore
