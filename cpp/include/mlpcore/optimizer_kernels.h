// The optimizer updates over whole flat buffers on the CPU: the dispatched
// kernels (kernel_table.h) run over fixed pieces that threads claim one at a
// time, so the result is bitwise the same on any number of threads. Plain
// pointers and the per-step scalars only (optimizer_steps.h; optimizer_configs.h
// builds them): nothing here knows a network.
//
// Every array holds n floats and none overlaps another. An optional state
// buffer is passed exactly when its option is on (RMSprop throws
// std::invalid_argument when its momentum buffer and momentum > 0 disagree).
#pragma once

#include <cstddef>

#include "mlpcore/optimizer_steps.h"

namespace mlpcore {

// torch.optim.Adam / AdamW. max_exp_avg_sq: the running maximum for amsgrad,
// else null.
void adam_step(std::size_t n, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamStep& step);

// torch.optim.RMSprop. grad_avg: for centered, else null; momentum_buf: exactly
// when step.momentum > 0, else null.
void rmsprop_step(std::size_t n, float* param, const float* grad, float* square_avg, float* grad_avg,
                  float* momentum_buf, const RmspropStep& step);

// torch.optim.Adagrad. state_sum starts at the initial accumulator value.
void adagrad_step(std::size_t n, float* param, const float* grad, float* state_sum, const AdagradStep& step);

}  // namespace mlpcore
