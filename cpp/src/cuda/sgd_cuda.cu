// The SGD update on the GPU under the divergence rule, without the host: a
// check pass computes every value the step would produce and sets the verdict
// when one is not finite (or the gradient is not); the update pass, queued
// after it, reads the verdict and changes nothing once it is set.
#include <cstdint>

#include "check.cuh"
#include "kernels.cuh"

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
    const float p_new = sgd_element(p[i], grad[i], v[i], lr, momentum, keep, take, weight_decay, nesterov, &v_new);
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
    p[i] = sgd_element(p[i], grad[i], v[i], lr, momentum, keep, take, weight_decay, nesterov, &v_new);
    if (momentum != 0.0f) v[i] = v_new;
  }
}

}  // namespace

void sgd_update(const SgdUpdate& u, UpdateGuard&, Verdict* verdict, Verdict code) {
  static_assert(sizeof(Verdict) == sizeof(unsigned long long), "the verdict is updated with 64-bit atomics");
  auto* flag = reinterpret_cast<unsigned long long*>(verdict);
  const SgdConfig& c = u.config;
  // The momentum buffer starts as the first gradient: keep nothing, take all.
  const float keep = u.first_step ? 0.0f : c.momentum;
  const float take = u.first_step ? 1.0f : 1.0f - c.dampening;
  for (int pass = 0; pass < 2; ++pass) {  // every check before any update
    for (const DecaySpan& s : *u.spans) {
      if (s.size == 0) continue;
      const float wd = s.decay ? c.weight_decay : 0.0f;
      float* p = u.params + s.begin;
      float* v = u.velocity + s.begin;
      const float* g = u.grads + s.begin;
      if (pass == 0) {
        sgd_check_kernel<<<blocks_for(s.size), kThreads>>>(s.size, p, g, v, c.lr, c.momentum, keep, take, wd,
                                                           c.nesterov, flag, code);
        check_launch("sgd_check_kernel");
      } else {
        sgd_apply_kernel<<<blocks_for(s.size), kThreads>>>(s.size, p, g, v, c.lr, c.momentum, keep, take, wd,
                                                           c.nesterov, flag);
        check_launch("sgd_apply_kernel");
      }
    }
  }
}

}  // namespace mlpcore::cuda
