// The optimizer updates on the GPU: the loops of kernels/elementwise_impl.h
// (PyTorch's single-tensor arithmetic, operation by operation) as grid-stride
// kernels, one element per thread per step, each option a template flag. A
// kernel given `check` writes nothing: it sets the verdict when the gradient or
// a value the step would produce is not finite (the divergence rule's first pass).
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

// The frame every update kernel shares: nothing when the step is skipped, else
// element(i) over a grid-stride loop. element(i) computes the element's step
// once; with `check` it writes nothing and returns whether the gradient or a
// value the step would produce is not finite, else it writes them (and returns
// false). A bad element sets the verdict.
template <class Element>
__device__ void update_elements(std::size_t n, const Verdict* skip, Verdict* check, Verdict code,
                                const Element& element) {
  if (skip && *skip) return;
  bool bad = false;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    bad |= element(i);
  }
  if (bad) atomicCAS(reinterpret_cast<unsigned long long*>(check), 0ULL, static_cast<unsigned long long>(code));
}

// The gradient with L2 weight decay added (torch: grad.add(param, alpha=weight_decay)).
template <bool kDecay>
__device__ float decayed(float g, float weight_decay, float p) {
  if constexpr (kDecay) return g + weight_decay * p;
  return g;
}

template <bool kDecay, bool kAmsgrad>
__global__ void adam_kernel(std::size_t n, float* __restrict__ p, const float* __restrict__ grad,
                            float* __restrict__ m, float* __restrict__ v, float* __restrict__ vmax, AdamStep s,
                            LerpRule lerp, const Verdict* skip, Verdict* check, Verdict code) {
  const float neg_step = -s.step_size;
  update_elements(n, skip, check, code, [&](std::size_t i) {
    const float pi = p[i] * s.param_scale;
    const float g = decayed<kDecay>(grad[i], s.weight_decay, pi);
    const float mi = m[i];
    const float mn = (lerp.from_a ? mi : g) + lerp.coeff * (g - mi);
    float vi = v[i] * s.beta2 + (s.one_minus_beta2 * g) * g;
    if (!check) {
      m[i] = mn;
      v[i] = vi;
    }
    if constexpr (kAmsgrad) {
      const float top = vmax[i];
      float mx = vi > top ? vi : top;
      mx = vi != vi ? vi : mx;  // NaN from either side, as torch.maximum
      if (!check) vmax[i] = mx;
      vi = mx;
    }
    const float denom = sqrtf(vi) / s.bias_correction2_sqrt + s.eps;
    const float pn = pi + (neg_step * mn) / denom;
    if (check) return !isfinite(grad[i]) || !isfinite(mn) || !isfinite(vi) || !isfinite(pn);
    p[i] = pn;
    return false;
  });
}

template <bool kDecay, bool kCentered, bool kMomentum>
__global__ void rmsprop_kernel(std::size_t n, float* __restrict__ p, const float* __restrict__ grad,
                               float* __restrict__ sq, float* __restrict__ gavg, float* __restrict__ buf,
                               RmspropStep s, LerpRule lerp, const Verdict* skip, Verdict* check,
                               Verdict code) {
  const float neg_lr = -s.lr;
  update_elements(n, skip, check, code, [&](std::size_t i) {
    const float pi = p[i];
    const float g = decayed<kDecay>(grad[i], s.weight_decay, pi);
    const float sa = sq[i] * s.alpha + (s.one_minus_alpha * g) * g;
    if (!check) sq[i] = sa;
    float avg;
    float ga = 0.0f;
    if constexpr (kCentered) {
      const float ga0 = gavg[i];
      ga = (lerp.from_a ? ga0 : g) + lerp.coeff * (g - ga0);
      if (!check) gavg[i] = ga;
      avg = sqrtf(sa + (-ga) * ga) + s.eps;
    } else {
      avg = sqrtf(sa) + s.eps;
    }
    float b = 0.0f, pn;
    if constexpr (kMomentum) {
      b = buf[i] * s.momentum + g / avg;
      if (!check) buf[i] = b;
      pn = pi + neg_lr * b;
    } else {
      pn = pi + (neg_lr * g) / avg;
    }
    if (check) return !isfinite(grad[i]) || !isfinite(sa) || !isfinite(ga) || !isfinite(b) || !isfinite(pn);
    p[i] = pn;
    return false;
  });
}

template <bool kDecay>
__global__ void adagrad_kernel(std::size_t n, float* __restrict__ p, const float* __restrict__ grad,
                               float* __restrict__ sum, AdagradStep s, const Verdict* skip, Verdict* check,
                               Verdict code) {
  const float neg_clr = -s.clr;
  update_elements(n, skip, check, code, [&](std::size_t i) {
    const float pi = p[i];
    const float g = decayed<kDecay>(grad[i], s.weight_decay, pi);
    const float ss = sum[i] + g * g;
    const float pn = pi + (neg_clr * g) / (sqrtf(ss) + s.eps);
    if (check) return !isfinite(grad[i]) || !isfinite(ss) || !isfinite(pn);
    sum[i] = ss;
    p[i] = pn;
    return false;
  });
}

template <bool kDecay>
void launch_adam(std::size_t n, float* p, const float* g, float* m, float* v, float* vmax, const AdamStep& s,
                 const Verdict* skip, Verdict* check, Verdict code) {
  const LerpRule lerp = lerp_rule(s.lerp_weight);
  if (vmax) {
    adam_kernel<kDecay, true><<<blocks_for(n), kThreads>>>(n, p, g, m, v, vmax, s, lerp, skip, check, code);
  } else {
    adam_kernel<kDecay, false><<<blocks_for(n), kThreads>>>(n, p, g, m, v, nullptr, s, lerp, skip, check, code);
  }
}

template <bool kDecay, bool kCentered>
void launch_rmsprop(std::size_t n, float* p, const float* g, float* sq, float* ga, float* buf,
                    const RmspropStep& s, const Verdict* skip, Verdict* check, Verdict code) {
  const LerpRule lerp = lerp_rule(s.one_minus_alpha);
  if (buf) {
    rmsprop_kernel<kDecay, kCentered, true><<<blocks_for(n), kThreads>>>(n, p, g, sq, ga, buf, s, lerp, skip, check, code);
  } else {
    rmsprop_kernel<kDecay, kCentered, false><<<blocks_for(n), kThreads>>>(n, p, g, sq, ga, nullptr, s, lerp, skip, check, code);
  }
}

}  // namespace

void adam_step(std::size_t n, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamStep& step, const Verdict* skip, Verdict* check, Verdict code) {
  if (n == 0) return;
  if (step.weight_decay != 0.0f) {
    launch_adam<true>(n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, skip, check, code);
  } else {
    launch_adam<false>(n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, skip, check, code);
  }
  check_launch("adam_kernel");
}

void rmsprop_step(std::size_t n, float* param, const float* grad, float* square_avg, float* grad_avg,
                  float* momentum_buf, const RmspropStep& step, const Verdict* skip, Verdict* check,
                  Verdict code) {
  if ((step.momentum > 0.0f) != (momentum_buf != nullptr)) {
    throw std::invalid_argument("momentum_buf: expected a buffer exactly when momentum > 0");
  }
  if (n == 0) return;
  const bool decay = step.weight_decay != 0.0f;
  if (decay && grad_avg) {
    launch_rmsprop<true, true>(n, param, grad, square_avg, grad_avg, momentum_buf, step, skip, check, code);
  } else if (decay) {
    launch_rmsprop<true, false>(n, param, grad, square_avg, nullptr, momentum_buf, step, skip, check, code);
  } else if (grad_avg) {
    launch_rmsprop<false, true>(n, param, grad, square_avg, grad_avg, momentum_buf, step, skip, check, code);
  } else {
    launch_rmsprop<false, false>(n, param, grad, square_avg, nullptr, momentum_buf, step, skip, check, code);
  }
  check_launch("rmsprop_kernel");
}

void adagrad_step(std::size_t n, float* param, const float* grad, float* state_sum, const AdagradStep& step,
                  const Verdict* skip, Verdict* check, Verdict code) {
  if (n == 0) return;
  if (step.weight_decay != 0.0f) {
    adagrad_kernel<true><<<blocks_for(n), kThreads>>>(n, param, grad, state_sum, step, skip, check, code);
  } else {
    adagrad_kernel<false><<<blocks_for(n), kThreads>>>(n, param, grad, state_sum, step, skip, check, code);
  }
  check_launch("adagrad_kernel");
}

}  // namespace mlpcore::cuda
