// The optimizer updates on the GPU: the loops of kernels/elementwise_impl.h
// (PyTorch's single-tensor arithmetic, operation by operation) as grid-stride
// kernels, one element per thread per step, each option a template flag.
#include <stdexcept>

#include "check.cuh"
#include "mlpcore/cuda/optimizer_kernels.h"

namespace mlpcore::cuda {
namespace {

// torch.lerp(a, b, w) as base + coeff * (b - a): a + w (b - a) for |w| < 0.5,
// else b + (w - 1)(b - a), which is b - (b - a)(1 - w) exactly.
struct LerpRule {
  bool from_a;
  float coeff;
};

LerpRule lerp_rule(float w) {
  const bool small = w < 0.5f && w > -0.5f;
  return {small, small ? w : w - 1.0f};
}

template <bool kDecay, bool kAmsgrad>
__global__ void adam_kernel(std::size_t n, float* __restrict__ p, const float* __restrict__ grad,
                            float* __restrict__ m, float* __restrict__ v, float* __restrict__ vmax, AdamStep s,
                            LerpRule lerp, const int* skip) {
  if (skip && *skip) return;
  const float neg_step = -s.step_size;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const float pi = p[i] * s.param_scale;
    float g = grad[i];
    if constexpr (kDecay) g = g + s.weight_decay * pi;
    const float mi = m[i];
    const float mn = (lerp.from_a ? mi : g) + lerp.coeff * (g - mi);
    m[i] = mn;
    float vi = v[i] * s.beta2 + (s.one_minus_beta2 * g) * g;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      const float top = vmax[i];
      float mx = vi > top ? vi : top;
      mx = vi != vi ? vi : mx;  // NaN from either side, as torch.maximum
      vmax[i] = mx;
      vi = mx;
    }
    const float denom = sqrtf(vi) / s.bias_correction2_sqrt + s.eps;
    p[i] = pi + (neg_step * mn) / denom;
  }
}

template <bool kDecay, bool kCentered, bool kMomentum>
__global__ void rmsprop_kernel(std::size_t n, float* __restrict__ p, const float* __restrict__ grad,
                               float* __restrict__ sq, float* __restrict__ gavg, float* __restrict__ buf,
                               RmspropStep s, LerpRule lerp, const int* skip) {
  if (skip && *skip) return;
  const float neg_lr = -s.lr;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const float pi = p[i];
    float g = grad[i];
    if constexpr (kDecay) g = g + s.weight_decay * pi;
    const float sa = sq[i] * s.alpha + (s.one_minus_alpha * g) * g;
    sq[i] = sa;
    float avg;
    if constexpr (kCentered) {
      const float ga0 = gavg[i];
      const float ga = (lerp.from_a ? ga0 : g) + lerp.coeff * (g - ga0);
      gavg[i] = ga;
      avg = sqrtf(sa + (-ga) * ga) + s.eps;
    } else {
      avg = sqrtf(sa) + s.eps;
    }
    if constexpr (kMomentum) {
      const float b = buf[i] * s.momentum + g / avg;
      buf[i] = b;
      p[i] = pi + neg_lr * b;
    } else {
      p[i] = pi + (neg_lr * g) / avg;
    }
  }
}

template <bool kDecay>
__global__ void adagrad_kernel(std::size_t n, float* __restrict__ p, const float* __restrict__ grad,
                               float* __restrict__ sum, AdagradStep s, const int* skip) {
  if (skip && *skip) return;
  const float neg_clr = -s.clr;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const float pi = p[i];
    float g = grad[i];
    if constexpr (kDecay) g = g + s.weight_decay * pi;
    const float ss = sum[i] + g * g;
    sum[i] = ss;
    p[i] = pi + (neg_clr * g) / (sqrtf(ss) + s.eps);
  }
}

template <bool kDecay>
void launch_adam(std::size_t n, float* p, const float* g, float* m, float* v, float* vmax, const AdamStep& s,
                 const int* skip) {
  const LerpRule lerp = lerp_rule(s.lerp_weight);
  if (vmax) {
    adam_kernel<kDecay, true><<<blocks_for(n), kThreads>>>(n, p, g, m, v, vmax, s, lerp, skip);
  } else {
    adam_kernel<kDecay, false><<<blocks_for(n), kThreads>>>(n, p, g, m, v, nullptr, s, lerp, skip);
  }
}

template <bool kDecay, bool kCentered>
void launch_rmsprop(std::size_t n, float* p, const float* g, float* sq, float* ga, float* buf,
                    const RmspropStep& s, const int* skip) {
  const LerpRule lerp = lerp_rule(s.one_minus_alpha);
  if (buf) {
    rmsprop_kernel<kDecay, kCentered, true><<<blocks_for(n), kThreads>>>(n, p, g, sq, ga, buf, s, lerp, skip);
  } else {
    rmsprop_kernel<kDecay, kCentered, false><<<blocks_for(n), kThreads>>>(n, p, g, sq, ga, nullptr, s, lerp, skip);
  }
}

}  // namespace

void adam_step(std::size_t n, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamStep& step, const int* skip) {
  if (n == 0) return;
  if (step.weight_decay != 0.0f) {
    launch_adam<true>(n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, skip);
  } else {
    launch_adam<false>(n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, skip);
  }
  check_launch("adam_kernel");
}

void rmsprop_step(std::size_t n, float* param, const float* grad, float* square_avg, float* grad_avg,
                  float* momentum_buf, const RmspropStep& step, const int* skip) {
  if ((step.momentum > 0.0f) != (momentum_buf != nullptr)) {
    throw std::invalid_argument("momentum_buf: expected a buffer exactly when momentum > 0");
  }
  if (n == 0) return;
  const bool decay = step.weight_decay != 0.0f;
  if (decay && grad_avg) {
    launch_rmsprop<true, true>(n, param, grad, square_avg, grad_avg, momentum_buf, step, skip);
  } else if (decay) {
    launch_rmsprop<true, false>(n, param, grad, square_avg, nullptr, momentum_buf, step, skip);
  } else if (grad_avg) {
    launch_rmsprop<false, true>(n, param, grad, square_avg, grad_avg, momentum_buf, step, skip);
  } else {
    launch_rmsprop<false, false>(n, param, grad, square_avg, nullptr, momentum_buf, step, skip);
  }
  check_launch("rmsprop_kernel");
}

void adagrad_step(std::size_t n, float* param, const float* grad, float* state_sum, const AdagradStep& step,
                  const int* skip) {
  if (n == 0) return;
  if (step.weight_decay != 0.0f) {
    adagrad_kernel<true><<<blocks_for(n), kThreads>>>(n, param, grad, state_sum, step, skip);
  } else {
    adagrad_kernel<false><<<blocks_for(n), kThreads>>>(n, param, grad, state_sum, step, skip);
  }
  check_launch("adagrad_kernel");
}

}  // namespace mlpcore::cuda
