// The scalars of one optimizer update, computed by the caller once per step
// (optimizer_configs.h builds them from a config and the step count), so that
// an update kernel is one elementwise pass over plain arrays.
//
// Each kernel performs, element by element and in this order, the float32
// operations of PyTorch's single-tensor (non-foreach, non-fused) optimizer code
// (torch/optim/adam.py, rmsprop.py, adagrad.py), with these scalars in place of
// the Python floats that torch rounds to float32 as it applies them. The
// portable kernels round every operation; a SIMD kernel may fuse a multiply
// and an add (one rounding fewer), as PyTorch's own vector code does.
//
// lerp(a, b, w) below is torch.lerp: a + w (b - a) for |w| < 0.5, else
// b - (b - a)(1 - w).
#pragma once

namespace mlpcore {

// torch.optim.Adam / AdamW. With g = grad:
//   p = p * param_scale                      (AdamW's decoupled decay; 1: none)
//   g = g + weight_decay * p                 (Adam's decay; skipped when 0)
// (one of the two decays at most: the other stays 1, or 0)
//   exp_avg = lerp(exp_avg, g, lerp_weight)
//   exp_avg_sq = exp_avg_sq * beta2 + (one_minus_beta2 * g) * g
//   v = exp_avg_sq, or with amsgrad max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)
//       (NaN propagates, as torch.maximum) and v = max_exp_avg_sq
//   denom = sqrt(v) / bias_correction2_sqrt + eps
//   p = p + (-step_size * exp_avg) / denom
struct AdamStep {
  float param_scale = 1.0f;   // 1 - lr * weight_decay for AdamW, else 1
  float weight_decay = 0.0f;  // Adam's (coupled) decay, else 0
  float lerp_weight;          // 1 - beta1
  float beta2;
  float one_minus_beta2;      // 1 - beta2
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  float eps;
  float step_size;            // lr / (1 - beta1^t)
};

// torch.optim.RMSprop. With g = grad:
//   g = g + weight_decay * p                 (skipped when 0)
//   square_avg = square_avg * alpha + (one_minus_alpha * g) * g
//   centered: grad_avg = lerp(grad_avg, g, one_minus_alpha)
//             avg = sqrt(square_avg - grad_avg * grad_avg) + eps
//   else      avg = sqrt(square_avg) + eps
//   momentum: buf = buf * momentum + g / avg;  p = p + (-lr) * buf
//   else      p = p + (-lr * g) / avg
struct RmspropStep {
  float weight_decay = 0.0f;
  float alpha;
  float one_minus_alpha;  // 1 - alpha
  float eps;
  float momentum = 0.0f;  // used exactly when a momentum buffer is passed (momentum > 0)
  float lr;
};

// torch.optim.Adagrad. With g = grad:
//   g = g + weight_decay * p                 (skipped when 0)
//   state_sum = state_sum + g * g
//   p = p + (-clr * g) / (sqrt(state_sum) + eps)
// (The initial accumulator value is the caller's first state_sum.)
struct AdagradStep {
  float weight_decay = 0.0f;
  float clr;  // lr / (1 + (t - 1) * lr_decay)
  float eps;
};

}  // namespace mlpcore
