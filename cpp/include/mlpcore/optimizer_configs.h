// The settings of the Adam, AdamW, RMSprop and Adagrad optimizers, their range
// rules (validate: the one place they live; the Python classes call them through
// _core.check_adam, check_rmsprop, check_adagrad) and the per-step scalars the
// update kernels take (optimizer_steps.h, optimizer_kernels.h,
// cuda/optimizer_kernels.h).
//
// Settings are doubles, as Python floats are: the per-step scalars are computed
// from them in double, as PyTorch computes them in Python, and each is rounded
// to float32 once, where torch rounds it when it is applied to a tensor.
// Defaults are torch.optim's.
#pragma once

#include <cstdint>

#include "mlpcore/optimizer_steps.h"

namespace mlpcore {

// torch.optim.SGD's settings (float32, as the update kernel takes them).
struct SgdConfig {
  float lr = 0.01f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

struct AdamConfig {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool decoupled = false;  // AdamW: p *= 1 - lr * weight_decay instead of adding weight_decay * p to the gradient
};

struct RmspropConfig {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

struct AdagradConfig {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;  // every state_sum element's value before the first step
  double eps = 1e-10;
};

// Throw std::invalid_argument naming the bad setting, what was expected and
// what came: lr, eps, weight_decay, lr_decay and initial_accumulator_value
// finite float32 numbers >= 0; betas in [0, 1); alpha in [0, 1]; momentum in
// [0, 1). None may be a positive number below float32's smallest normal
// (native compute flushes those to 0, so the setting would silently be 0).
// SGD: lr > 0, momentum in [0, 1), weight_decay >= 0, Nesterov needs momentum > 0 and no dampening.
void validate(const SgdConfig& config);
void validate(const AdamConfig& config);
void validate(const RmspropConfig& config);
void validate(const AdagradConfig& config);

// The scalars of update number `step` (1 for the first) of a valid config, as
// torch computes them: bias corrections 1 - beta^step, step_size = lr / (1 -
// beta1^step), AdamW's 1 - lr * weight_decay, Adagrad's lr / (1 + (step - 1) *
// lr_decay). Throws std::invalid_argument for step 0.
AdamStep adam_step_scalars(const AdamConfig& config, std::uint64_t step);
RmspropStep rmsprop_step_scalars(const RmspropConfig& config);
AdagradStep adagrad_step_scalars(const AdagradConfig& config, std::uint64_t step);

}  // namespace mlpcore
