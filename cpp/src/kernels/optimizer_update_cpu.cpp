// The CPU backend's optimizer update under the divergence rule: a step is
// applied only when its gradient and every parameter and state value it
// produces are finite, decided before anything is written, without a copy of
// the state. Magnitude bounds carried from step to step (UpdateGuard) clear
// almost every update at no cost; if they cannot, the gradients' largest
// magnitude is read, and an update that could still come near the float range
// (or whose kind has no sound bound, as centered RMSprop's square root of a
// difference) is first computed on a scratch copy, a piece at a time.
#include "optimizer_update_cpu.h"

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

bool safe(double x) { return x <= kSafe; }  // false for NaN too

// Floats a kind reads and writes per parameter, for the thread count.
double flops_per_element(OptimizerKind kind) { return kind == OptimizerKind::sgd ? 4.0 : 20.0; }

// The kernel over one span, on the given parameter and state pointers (the
// buffers' own, or trial copies), with weight decay off where the span has none.
void run_piece(const OptimizerUpdate& u, const DecaySpan& s, float* p, float* const st[kMaxStates]) {
  const KernelTable& kt = kernels();
  const float* g = u.grads + s.begin;
  switch (u.kind) {
    case OptimizerKind::sgd: {
      const SgdConfig& c = u.sgd;
      kt.sgd_step(s.size, p, g, st[0], c.lr, c.momentum, c.dampening, s.decay ? c.weight_decay : 0.0f, c.nesterov,
                  u.first_step);
      break;
    }
    case OptimizerKind::adam: {
      AdamStep a = u.adam;
      if (!s.decay) {
        a.weight_decay = 0.0f;
        a.param_scale = 1.0f;
      }
      kt.adam_step(s.size, p, g, st[0], st[1], st[2], a);
      break;
    }
    case OptimizerKind::rmsprop: {
      RmspropStep r = u.rmsprop;
      if (!s.decay) r.weight_decay = 0.0f;
      kt.rmsprop_step(s.size, p, g, st[0], st[1], st[2], r);
      break;
    }
    case OptimizerKind::adagrad: {
      AdagradStep a = u.adagrad;
      if (!s.decay) a.weight_decay = 0.0f;
      kt.adagrad_step(s.size, p, g, st[0], a);
      break;
    }
  }
}

// Every span, claimed by threads one at a time (a thread slowed by another
// process takes fewer); each element is updated on its own, so the split never
// changes the result.
void apply(const OptimizerUpdate& u) {
  const std::vector<DecaySpan>& spans = *u.spans;
  const int nt = spans.size() > 1 ? threads_for(flops_per_element(u.kind) * static_cast<double>(u.size)) : 1;
  parallel_for_dynamic(nt, spans.size(), [&](std::size_t i) {
    const DecaySpan& s = spans[i];
    float* st[kMaxStates];
    for (int k = 0; k < kMaxStates; ++k) st[k] = u.state[k] ? u.state[k] + s.begin : nullptr;
    run_piece(u, s, u.params + s.begin, st);
  });
}

// Bounds on every value the kernel computes, element by element, given
// |gradient| <= g and the guard's bounds on |parameter| and |state|. True when
// they all stay below kSafe; fills in the bounds after the step. Kinds (or
// settings) without a sound bound answer false, so the step gets a trial.
bool bounds_clear(const OptimizerUpdate& u, const UpdateGuard& guard, double g, UpdateGuard& next) {
  const double p = guard.param_bound;
  const double* s = guard.state_bound;
  next = guard;
  switch (u.kind) {
    case OptimizerKind::sgd: {
      // decayed gradient |g + wd p| <= h, momentum |v'| <= momentum |v| + (1 - dampening) h
      // (h on the first step), step |s| (v', or h + momentum v' for Nesterov), |p - lr s| <= |p| + lr |s|.
      const SgdConfig& c = u.sgd;
      const double h = g + (c.weight_decay != 0.0f ? c.weight_decay * p : 0.0);
      double velocity = s[0], step = h;
      if (c.momentum != 0.0f) {
        velocity = u.first_step ? h : c.momentum * s[0] + (1.0 - c.dampening) * h;
        step = c.nesterov ? h + c.momentum * velocity : velocity;
      }
      const double lr_s = c.lr * step;
      next.param_bound = p + lr_s;
      next.state_bound[0] = velocity;
      return safe(h) && safe(step) && safe(lr_s) && safe(next.param_bound) && (c.momentum == 0.0f || safe(velocity));
    }
    case OptimizerKind::adam: {
      // p' = p * scale, h = g + wd p', m' a convex mix of m and h, v' = b2 v + (1 - b2) h^2,
      // denominator >= eps, so |step| <= step_size m' / eps.
      const AdamStep& a = u.adam;
      if (!(a.eps > 0.0f)) return false;
      const double scaled = p * std::fabs(static_cast<double>(a.param_scale));
      const double h = g + a.weight_decay * scaled;
      const double m = std::max(s[0], h);
      const double v = a.beta2 * s[1] + a.one_minus_beta2 * h * h;
      const double v_max = u.state[2] ? std::max(s[2], v) : 0.0;
      const double step = a.step_size * m / a.eps;
      next.param_bound = scaled + step;
      next.state_bound[0] = m;
      next.state_bound[1] = v;
      next.state_bound[2] = v_max;
      return safe(h) && safe(h * h) && safe(m) && safe(v) && safe(v_max) && safe(step) && safe(next.param_bound);
    }
    case OptimizerKind::rmsprop: {
      // sqrt(square_avg - grad_avg^2) can be the root of a rounded negative: no sound bound.
      const RmspropStep& r = u.rmsprop;
      if (u.state[1] || !(r.eps > 0.0f)) return false;
      const double h = g + r.weight_decay * p;
      const double sq = r.alpha * s[0] + r.one_minus_alpha * h * h;
      const double ratio = h / r.eps;  // the denominator is at least eps
      const double buf = u.state[2] ? r.momentum * s[2] + ratio : 0.0;
      const double step = r.lr * (u.state[2] ? buf : ratio);
      next.param_bound = p + step;
      next.state_bound[0] = sq;
      next.state_bound[2] = buf;
      return safe(h) && safe(h * h) && safe(sq) && safe(ratio) && safe(buf) && safe(step) && safe(next.param_bound);
    }
    case OptimizerKind::adagrad: {
      const AdagradStep& a = u.adagrad;
      if (!(a.eps > 0.0f)) return false;
      const double h = g + a.weight_decay * p;
      const double sum = s[0] + h * h;
      const double step = a.clr * h / a.eps;
      next.param_bound = p + step;
      next.state_bound[0] = sum;
      return safe(h) && safe(h * h) && safe(sum) && safe(step) && safe(next.param_bound);
    }
  }
  return false;
}

// Computes the step span by span on copies (placed at the same alignment, so
// the kernel takes the same path and gives the same bits) and reports whether
// every result is finite, with the largest magnitudes. Serial: it only runs for
// updates the bounds cannot clear.
bool trial_step(const OptimizerUpdate& u, UpdateGuard& next) {
  constexpr std::size_t kLine = 16;  // floats per 64 bytes
  std::size_t longest = 0;
  for (const DecaySpan& s : *u.spans) longest = std::max(longest, s.size);
  const std::size_t stride = longest + 2 * kLine;
  thread_local AlignedBuffer trial;
  trial.resize((1 + kMaxStates) * stride);
  auto copy_of = [&](int slot, const float* src, std::size_t n) {
    float* dst = trial.data() + slot * stride + (reinterpret_cast<std::uintptr_t>(src) / sizeof(float)) % kLine;
    std::memcpy(dst, src, n * sizeof(float));
    return dst;
  };
  float p_max = 0.0f, s_max[kMaxStates] = {0.0f, 0.0f, 0.0f};
  for (const DecaySpan& s : *u.spans) {
    float* p = copy_of(0, u.params + s.begin, s.size);
    float* st[kMaxStates];
    for (int k = 0; k < kMaxStates; ++k) st[k] = u.state[k] ? copy_of(1 + k, u.state[k] + s.begin, s.size) : nullptr;
    run_piece(u, s, p, st);
    const float pm = kernels().max_abs(s.size, p);
    if (!std::isfinite(pm)) return false;
    p_max = std::max(p_max, pm);
    for (int k = 0; k < kMaxStates; ++k) {
      if (!st[k]) continue;
      const float m = kernels().max_abs(s.size, st[k]);
      if (!std::isfinite(m)) return false;
      s_max[k] = std::max(s_max[k], m);
    }
  }
  next.param_bound = p_max;
  for (int k = 0; k < kMaxStates; ++k) next.state_bound[k] = s_max[k];
  return true;
}

// The exact magnitudes, where the bounds are unknown (a new optimizer, or state set from outside).
void measure(const OptimizerUpdate& u, UpdateGuard& guard) {
  auto exact = [](std::size_t n, const float* x) {
    const float m = x ? max_abs(n, x) : 0.0f;
    return std::isfinite(m) ? static_cast<double>(m) : kUnknown;
  };
  guard.param_bound = exact(u.size, u.params);
  for (int k = 0; k < kMaxStates; ++k) guard.state_bound[k] = exact(u.size, u.state[k]);
}

bool known(const UpdateGuard& g) {
  if (g.param_bound == kUnknown) return false;
  for (double b : g.state_bound) {
    if (b == kUnknown) return false;
  }
  return true;
}

}  // namespace

void optimizer_update_cpu(const OptimizerUpdate& u, UpdateGuard& guard, Verdict* verdict, Verdict code) {
  if (verdict && *verdict != 0) return;
  if (!known(guard)) measure(u, guard);
  UpdateGuard next;
  if (!bounds_clear(u, guard, u.gradient_bound, next)) {
    const float g_max = max_abs(u.size, u.grads);  // exact, where the given bound was loose or missing
    const bool finite = std::isfinite(g_max) && (bounds_clear(u, guard, g_max, next) || trial_step(u, next));
    if (!finite) {
      if (verdict) *verdict = code;
      return;
    }
  }
  apply(u);
  guard = next;
}

}  // namespace mlpcore
