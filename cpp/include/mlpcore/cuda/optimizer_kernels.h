// The optimizer updates on device pointers, as the CPU ones
// (mlpcore/optimizer_kernels.h): the same step scalars (optimizer_steps.h), the
// same operations in the same order (nvcc may fuse a multiply and an add where
// the CPU rounds twice, as the SIMD CPU kernels may). Every launch goes to the
// default stream; a failing launch throws CudaError.
//
// skip: the verdict (backend.h), read by the kernel; when skip is not null and *skip is
// nonzero at run time (a diverged step), nothing changes. It lets the trainer
// queue the update before it knows whether the batch diverged.
// check: when not null, nothing is written; *check gets `code` (unless it holds
// an earlier verdict) when the gradient or a value the step would produce is
// not finite. The backend runs this pass first, then the update.
#pragma once

#include <cstddef>

#include "mlpcore/backend.h"
#include "mlpcore/optimizer_steps.h"

namespace mlpcore::cuda {

// torch.optim.Adam / AdamW; max_exp_avg_sq: for amsgrad, else null.
void adam_step(std::size_t n, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamStep& step, const Verdict* skip,
               Verdict* check = nullptr, Verdict code = 0);

// torch.optim.RMSprop; grad_avg: for centered, else null; momentum_buf: exactly
// when step.momentum > 0 (std::invalid_argument otherwise), else null.
void rmsprop_step(std::size_t n, float* param, const float* grad, float* square_avg, float* grad_avg,
                  float* momentum_buf, const RmspropStep& step, const Verdict* skip,
                  Verdict* check = nullptr, Verdict code = 0);

// torch.optim.Adagrad.
void adagrad_step(std::size_t n, float* param, const float* grad, float* state_sum, const AdagradStep& step,
                  const Verdict* skip, Verdict* check = nullptr, Verdict code = 0);

}  // namespace mlpcore::cuda
