// Backend::optimizer_update on the GPU, under the divergence rule and without
// the host: a check pass computes every value the step would produce and sets
// the verdict when one is not finite (or the gradient is not); the update pass,
// queued after it, reads the verdict and changes nothing once it is set. SGD's
// kernels are here; the other kinds' are in optimizers_cuda.cu.
#include <cstdint>

#include "check.cuh"
#include "kernels.cuh"
#include "mlpcore/cuda/optimizer_kernels.h"

namespace mlpcore::cuda {
namespace {

// torch.optim.SGD for one element, as sgd_step in kernels/elementwise_impl.h:
// returns the new parameter and writes the new momentum into *v_out.
__device__ __forceinline__ float sgd_element(float p, float grad, float v, float lr, float momentum, float keep,
                                             float take, float weight_decay, bool nesterov, float* v_out) {
  const float g = grad + weight_decay * p;
  if (momentum == 0.0f) {
    *v_out = v;
    return p - lr * g;
  }
  const float vi = keep * v + take * g;
  *v_out = vi;
  return p - lr * (nesterov ? g + momentum * vi : vi);
}

__global__ void sgd_check_kernel(std::size_t n, const float* __restrict__ p, const float* __restrict__ grad,
                                 const float* __restrict__ v, float lr, float momentum, float keep, float take,
                                 float weight_decay, bool nesterov, unsigned long long* verdict,
                                 unsigned long long code) {
  if (*verdict) return;
  bool bad = false;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    float v_new;
    const float v_old = momentum != 0.0f ? v[i] : 0.0f;  // no buffer without momentum
    const float p_new = sgd_element(p[i], grad[i], v_old, lr, momentum, keep, take, weight_decay, nesterov, &v_new);
    bad |= !isfinite(grad[i]) || !isfinite(p_new) || !isfinite(v_new);
  }
  if (bad) atomicCAS(verdict, 0ULL, code);
}

__global__ void sgd_apply_kernel(std::size_t n, float* __restrict__ p, const float* __restrict__ grad,
                                 float* __restrict__ v, float lr, float momentum, float keep, float take,
                                 float weight_decay, bool nesterov, const unsigned long long* verdict) {
  if (*verdict) return;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    float v_new;
    const float v_old = momentum != 0.0f ? v[i] : 0.0f;
    p[i] = sgd_element(p[i], grad[i], v_old, lr, momentum, keep, take, weight_decay, nesterov, &v_new);
    if (momentum != 0.0f) v[i] = v_new;
  }
}

}  // namespace

namespace {

void sgd_pass(const OptimizerUpdate& u, const DecaySpan& s, bool check, Verdict* verdict, Verdict code) {
  auto* flag = reinterpret_cast<unsigned long long*>(verdict);
  const SgdConfig& c = u.sgd;
  // The momentum buffer starts as the first gradient: keep nothing, take all.
  const float keep = u.first_step ? 0.0f : c.momentum;
  const float take = u.first_step ? 1.0f : 1.0f - c.dampening;
  const float wd = s.decay ? c.weight_decay : 0.0f;
  float* p = u.params + s.begin;
  float* v = u.state[0] ? u.state[0] + s.begin : nullptr;
  const float* g = u.grads + s.begin;
  if (check) {
    sgd_check_kernel<<<blocks_for(s.size), kThreads>>>(s.size, p, g, v, c.lr, c.momentum, keep, take, wd, c.nesterov,
                                                       flag, code);
    check_launch("sgd_check_kernel");
  } else {
    sgd_apply_kernel<<<blocks_for(s.size), kThreads>>>(s.size, p, g, v, c.lr, c.momentum, keep, take, wd, c.nesterov,
                                                       flag);
    check_launch("sgd_apply_kernel");
  }
}

// One pass of any kind over one span: the check (writes nothing) or the update.
void span_pass(const OptimizerUpdate& u, const DecaySpan& s, bool check, Verdict* verdict, Verdict code) {
  if (s.size == 0) return;
  Verdict* checked = check ? verdict : nullptr;
  float* p = u.params + s.begin;
  const float* g = u.grads + s.begin;
  auto state = [&](int k) { return u.state[k] ? u.state[k] + s.begin : nullptr; };
  switch (u.kind) {
    case OptimizerKind::sgd: sgd_pass(u, s, check, verdict, code); break;
    case OptimizerKind::adam: {
      AdamStep a = u.adam;
      if (!s.decay) {
        a.weight_decay = 0.0f;
        a.param_scale = 1.0f;
      }
      adam_step(s.size, p, g, state(0), state(1), state(2), a, verdict, checked, code);
      break;
    }
    case OptimizerKind::rmsprop: {
      RmspropStep r = u.rmsprop;
      if (!s.decay) r.weight_decay = 0.0f;
      rmsprop_step(s.size, p, g, state(0), state(1), state(2), r, verdict, checked, code);
      break;
    }
    case OptimizerKind::adagrad: {
      AdagradStep a = u.adagrad;
      if (!s.decay) a.weight_decay = 0.0f;
      adagrad_step(s.size, p, g, state(0), a, verdict, checked, code);
      break;
    }
  }
}

}  // namespace

void optimizer_update(const OptimizerUpdate& u, UpdateGuard&, Verdict* verdict, Verdict code) {
  static_assert(sizeof(Verdict) == sizeof(unsigned long long), "the verdict is updated with 64-bit atomics");
  for (const DecaySpan& s : *u.spans) span_pass(u, s, true, verdict, code);  // every check before any update
  for (const DecaySpan& s : *u.spans) span_pass(u, s, false, verdict, code);
}

}  // namespace mlpcore::cuda
