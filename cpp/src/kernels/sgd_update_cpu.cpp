// The CPU backend's SGD update under the divergence rule: a step is applied only
// when its gradient and every parameter and momentum value it produces are
// finite, decided before anything is written, without a copy of the state.
// Magnitude bounds carried from step to step (UpdateGuard) clear almost every
// update at no cost; if they cannot, the gradients' largest magnitude is read,
// and an update that could still come near the float range is first computed
// on a scratch copy, a piece at a time.
#include "sgd_update_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "mlpcore/aligned_buffer.h"
#include "mlpcore/dispatch.h"
#include "mlpcore/elementwise.h"
#include "mlpcore/threads.h"

namespace mlpcore {
namespace {

// The largest magnitude an update's bounded values may reach and still be
// cleared without a trial: half the float range, ample room for rounding.
constexpr double kSafe = 0.5 * static_cast<double>(std::numeric_limits<float>::max());
constexpr double kUnknown = std::numeric_limits<double>::infinity();

void run_piece(const SgdUpdate& u, const DecaySpan& s, float* params, float* velocity) {
  const SgdConfig& c = u.config;
  kernels().sgd_step(s.size, params, u.grads + s.begin, velocity, c.lr, c.momentum, c.dampening,
                     s.decay ? c.weight_decay : 0.0f, c.nesterov, u.first_step);
}

// Every piece, claimed by threads one at a time (a thread slowed by another
// process takes fewer); each element is updated on its own, so the split never
// changes the result.
void apply(const SgdUpdate& u) {
  const std::vector<DecaySpan>& spans = *u.spans;
  const int nt = spans.size() > 1 ? threads_for(4.0 * static_cast<double>(u.size)) : 1;
  parallel_for_dynamic(nt, spans.size(), [&](std::size_t i) {
    const DecaySpan& s = spans[i];
    run_piece(u, s, u.params + s.begin, u.velocity + s.begin);
  });
}

// Bounds on every value the kernel computes, element by element, given
// |gradient| <= g: the decayed gradient |g + wd p| <= h, the momentum
// |v'| <= momentum |v| + (1 - dampening) h (h on the first step), the step |s|
// (v', or h + momentum v' for Nesterov) and the parameter |p - lr s| <= |p| + lr |s|.
// True when they all stay below kSafe; fills in the bounds after the step.
bool bounds_clear(const SgdUpdate& u, const UpdateGuard& guard, double g, UpdateGuard& next) {
  const SgdConfig& c = u.config;
  const double h = g + (c.weight_decay != 0.0f ? c.weight_decay * guard.param_bound : 0.0);
  double velocity = guard.velocity_bound, s = h;
  if (c.momentum != 0.0f) {
    velocity = u.first_step ? h : c.momentum * guard.velocity_bound + (1.0 - c.dampening) * h;
    s = c.nesterov ? h + c.momentum * velocity : velocity;
  }
  const double lr_s = c.lr * s;
  next.param_bound = guard.param_bound + lr_s;
  next.velocity_bound = velocity;
  auto safe = [](double x) { return x <= kSafe; };  // false for NaN too
  return safe(h) && safe(s) && safe(lr_s) && safe(next.param_bound) && (c.momentum == 0.0f || safe(velocity));
}

// Computes the step piece by piece on copies (placed at the same alignment, so
// the kernel takes the same path and gives the same bits) and reports whether
// every result is finite, with the largest magnitudes. Serial: it only runs for
// updates near the float range.
bool trial_step(const SgdUpdate& u, const UpdateGuard& guard, UpdateGuard& next) {
  constexpr std::size_t kLine = 16;  // floats per 64 bytes
  std::size_t longest = 0;
  for (const DecaySpan& s : *u.spans) longest = std::max(longest, s.size);
  const std::size_t stride = longest + 2 * kLine;
  thread_local AlignedBuffer trial;
  trial.resize(2 * stride);
  const bool momentum = u.config.momentum != 0.0f;
  float pm = 0.0f, vm = 0.0f;
  for (const DecaySpan& s : *u.spans) {
    const std::size_t b = s.begin, n = s.size;
    float* p = trial.data() + (reinterpret_cast<std::uintptr_t>(u.params + b) / sizeof(float)) % kLine;
    float* v = trial.data() + stride + (reinterpret_cast<std::uintptr_t>(u.velocity + b) / sizeof(float)) % kLine;
    std::memcpy(p, u.params + b, n * sizeof(float));
    std::memcpy(v, u.velocity + b, n * sizeof(float));
    run_piece(u, s, p, v);
    const float p_max = kernels().max_abs(n, p), v_max = momentum ? kernels().max_abs(n, v) : 0.0f;
    if (!std::isfinite(p_max) || !std::isfinite(v_max)) return false;
    pm = std::max(pm, p_max);
    vm = std::max(vm, v_max);
  }
  next.param_bound = pm;
  next.velocity_bound = momentum ? vm : guard.velocity_bound;
  return true;
}

// The exact magnitudes, where the bounds are unknown (a new optimizer, or state set from outside).
void measure(const SgdUpdate& u, UpdateGuard& guard) {
  const float p = max_abs(u.size, u.params), v = max_abs(u.size, u.velocity);
  guard.param_bound = std::isfinite(p) ? p : kUnknown;
  guard.velocity_bound = std::isfinite(v) ? v : kUnknown;
}

}  // namespace

void sgd_update_cpu(const SgdUpdate& u, UpdateGuard& guard, Verdict* verdict, Verdict code) {
  if (verdict && *verdict != 0) return;
  if (guard.param_bound == kUnknown || guard.velocity_bound == kUnknown) measure(u, guard);
  UpdateGuard next;
  if (!bounds_clear(u, guard, u.gradient_bound, next)) {
    const float g_max = max_abs(u.size, u.grads);  // exact, where the given bound was loose or missing
    const bool finite = std::isfinite(g_max) && (bounds_clear(u, guard, g_max, next) || trial_step(u, guard, next));
    if (!finite) {
      if (verdict) *verdict = code;
      return;
    }
  }
  apply(u);
  guard = next;
}

}  // namespace mlpcore
