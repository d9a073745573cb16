// Elementwise kernels written once as plain, branch-free loops, and compiled
// once per ISA: each kernels/<isa>/elementwise_<isa>.cpp includes this file
// inside an anonymous namespace nested in mlpcore::elementwise_<isa> (so a
// profiler or nm names each copy with its ISA) with its own target flags, so
// the compiler vectorises the same code for SSE2, AVX2, AVX-512 or NEON.
//
// Rules that keep the per-ISA copies apart: include this file only inside an
// anonymous namespace, and call no inline library function (std::max, std::exp,
// ...) from it, since those are emitted once per program and the linker could
// keep a copy built for a wider ISA than the CPU has. (Hence __builtin_sqrtf,
// which compiles to the instruction.)
//
// The loops vectorise only because every select is branch-free and the files
// compile with -fno-trapping-math and -fno-math-errno (CMakeLists.txt; without
// the latter a square root is a call that may set errno): keep all three when
// editing (docs/gemm.md, "Elementwise kernels", says what vectorising gains).
// The generic copy also compiles with -ffp-contract=off, so that it rounds every
// operation as written (the SIMD copies may fuse a multiply and an add into one FMA).
//
// Accuracy (checked on every ISA by tests/test_vector_math.py against float64 numpy):
// exp within 1 ulp (measured 1.0 max on [-87.3, -17.5]; 0 below -87.34, +inf above 88.38);
// sigmoid within 1.2e-7 absolute and 3 ulp relative (measured 8.9e-8, 2.7 ulp);
// tanh within 1.2e-7 absolute and 2 ulp relative (measured 7.5e-8, 1.3 ulp).

// The including file includes <cstddef>, <cstdint>, <cstring> and
// mlpcore/kernel_table.h before opening its anonymous namespace.

// bits_to_float, vexp, vsigmoid, vtanh, vrelu and softmax_row: shared with the CUDA kernels.
#include "scalar_math.h"

template <mlpcore::Activation A>
inline float activate(float x) {
  if constexpr (A == mlpcore::Activation::relu) return vrelu(x);
  if constexpr (A == mlpcore::Activation::sigmoid) return vsigmoid(x);
  if constexpr (A == mlpcore::Activation::tanh) return vtanh(x);
  return x;
}

// d act / dx expressed through y = act(x). ReLU's derivative at 0 is taken as 0
// (as PyTorch does), so y > 0 selects exactly the inputs x > 0.
template <mlpcore::Activation A>
inline float derivative_from_output(float y) {
  if constexpr (A == mlpcore::Activation::relu) return y > 0.0f ? 1.0f : 0.0f;
  if constexpr (A == mlpcore::Activation::sigmoid) return y * (1.0f - y);
  // (1 - y)(1 + y), not 1 - y*y: near |y| = 1 the product keeps the small
  // difference to a few ulp where 1 - y*y loses up to 3e-4 of it without an FMA.
  if constexpr (A == mlpcore::Activation::tanh) return (1.0f - y) * (1.0f + y);
  return 1.0f;
}

template <mlpcore::Activation A>
void act_forward_t(std::size_t n, const float* x, float* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = activate<A>(x[i]);
}

template <mlpcore::Activation A>
void act_backward_t(std::size_t n, const float* y, const float* dy, float* dx) {
  if constexpr (A == mlpcore::Activation::relu) {
    for (std::size_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  } else {
    for (std::size_t i = 0; i < n; ++i) dx[i] = dy[i] * derivative_from_output<A>(y[i]);
  }
}

template <mlpcore::Activation A>
void bias_act_rows_t(std::size_t rows, std::size_t cols, const float* bias, float* y,
                     std::ptrdiff_t ld) {
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = y + static_cast<std::ptrdiff_t>(r) * ld;
    if (bias) {
      for (std::size_t j = 0; j < cols; ++j) row[j] = activate<A>(row[j] + bias[j]);
    } else if constexpr (A != mlpcore::Activation::identity) {
      for (std::size_t j = 0; j < cols; ++j) row[j] = activate<A>(row[j]);
    }
  }
}

void act_forward(mlpcore::Activation act, std::size_t n, const float* x, float* y) {
  using mlpcore::Activation;
  switch (act) {
    case Activation::relu: return act_forward_t<Activation::relu>(n, x, y);
    case Activation::sigmoid: return act_forward_t<Activation::sigmoid>(n, x, y);
    case Activation::tanh: return act_forward_t<Activation::tanh>(n, x, y);
    case Activation::identity: return act_forward_t<Activation::identity>(n, x, y);
  }
}

void act_backward(mlpcore::Activation act, std::size_t n, const float* y, const float* dy,
                  float* dx) {
  using mlpcore::Activation;
  switch (act) {
    case Activation::relu: return act_backward_t<Activation::relu>(n, y, dy, dx);
    case Activation::sigmoid: return act_backward_t<Activation::sigmoid>(n, y, dy, dx);
    case Activation::tanh: return act_backward_t<Activation::tanh>(n, y, dy, dx);
    case Activation::identity: return act_backward_t<Activation::identity>(n, y, dy, dx);
  }
}

void bias_act_rows(mlpcore::Activation act, std::size_t rows, std::size_t cols, const float* bias,
                   float* y, std::ptrdiff_t ld) {
  using mlpcore::Activation;
  switch (act) {
    case Activation::relu: return bias_act_rows_t<Activation::relu>(rows, cols, bias, y, ld);
    case Activation::sigmoid: return bias_act_rows_t<Activation::sigmoid>(rows, cols, bias, y, ld);
    case Activation::tanh: return bias_act_rows_t<Activation::tanh>(rows, cols, bias, y, ld);
    case Activation::identity:
      return bias_act_rows_t<Activation::identity>(rows, cols, bias, y, ld);
  }
}

void softmax_rows(std::size_t rows, std::size_t cols, const float* x, float* y) {
  for (std::size_t r = 0; r < rows; ++r) softmax_row(cols, x + r * cols, y + r * cols);
}

void column_sums(std::size_t rows, std::size_t cols, const float* x, float* acc) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (std::size_t j = 0; j < cols; ++j) acc[j] += xr[j];
  }
}

// torch.optim.SGD: g = grad + wd * p; v = g on the first step, else
// v = momentum * v + (1 - dampening) * g; the step uses g + momentum * v
// (Nesterov) or v; p -= lr * step.
void sgd_step(std::size_t n, float* p, const float* grad, float* v, float lr, float momentum,
              float dampening, float weight_decay, bool nesterov, bool first_step) {
  if (momentum == 0.0f) {
    for (std::size_t i = 0; i < n; ++i) p[i] -= lr * (grad[i] + weight_decay * p[i]);
    return;
  }
  const float keep = first_step ? 0.0f : momentum;
  const float take = first_step ? 1.0f : 1.0f - dampening;
  if (nesterov) {
    for (std::size_t i = 0; i < n; ++i) {
      float g = grad[i] + weight_decay * p[i];
      float vi = keep * v[i] + take * g;
      v[i] = vi;
      p[i] -= lr * (g + momentum * vi);
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      float g = grad[i] + weight_decay * p[i];
      float vi = keep * v[i] + take * g;
      v[i] = vi;
      p[i] -= lr * vi;
    }
  }
}

// ---------------------------------------------------------------- optimizer updates
// PyTorch's single-tensor arithmetic, operation by operation, with the scalars
// of optimizer_steps.h. Each option that changes the arithmetic is a template
// flag, so every loop is straight-line and vectorises.

// torch.lerp(a, b, w) for one weight w over many elements, as
// base + coeff * (b - a): for |w| < 0.5 it is a + w (b - a); otherwise
// b - (b - a)(1 - w) = b + (w - 1)(b - a) exactly (1 - w and w - 1 differ in sign only).
struct LerpRule {
  bool from_a;
  float coeff;
};

inline LerpRule lerp_rule(float w) {
  const bool small = w < 0.5f && w > -0.5f;
  return {small, small ? w : w - 1.0f};
}

template <bool kDecay, bool kAmsgrad>
void adam_step_t(std::size_t n, float* __restrict p, const float* __restrict grad, float* __restrict m,
                 float* __restrict v, float* __restrict vmax, const mlpcore::AdamStep& s) {
  const LerpRule lerp = lerp_rule(s.lerp_weight);
  const float scale = s.param_scale, wd = s.weight_decay, beta2 = s.beta2, omb2 = s.one_minus_beta2;
  const float bc2 = s.bias_correction2_sqrt, eps = s.eps, neg_step = -s.step_size;
  for (std::size_t i = 0; i < n; ++i) {
    const float pi = p[i] * scale;  // AdamW; * 1 changes nothing
    float g = grad[i];
    if constexpr (kDecay) g = g + wd * pi;
    const float mi = m[i];
    const float mn = (lerp.from_a ? mi : g) + lerp.coeff * (g - mi);
    m[i] = mn;
    float vi = v[i] * beta2 + (omb2 * g) * g;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      const float top = vmax[i];
      float mx = vi > top ? vi : top;  // NaN in top stays
      mx = vi != vi ? vi : mx;         // NaN in vi too, as torch.maximum
      vmax[i] = mx;
      vi = mx;
    }
    const float denom = __builtin_sqrtf(vi) / bc2 + eps;
    p[i] = pi + (neg_step * mn) / denom;
  }
}

void adam_step(std::size_t n, float* p, const float* grad, float* m, float* v, float* vmax,
               const mlpcore::AdamStep& s) {
  const bool decay = s.weight_decay != 0.0f;
  if (vmax) {
    return decay ? adam_step_t<true, true>(n, p, grad, m, v, vmax, s)
                 : adam_step_t<false, true>(n, p, grad, m, v, vmax, s);
  }
  return decay ? adam_step_t<true, false>(n, p, grad, m, v, nullptr, s)
               : adam_step_t<false, false>(n, p, grad, m, v, nullptr, s);
}

template <bool kDecay, bool kCentered, bool kMomentum>
void rmsprop_step_t(std::size_t n, float* __restrict p, const float* __restrict grad, float* __restrict sq,
                    float* __restrict gavg, float* __restrict buf, const mlpcore::RmspropStep& s) {
  const LerpRule lerp = lerp_rule(s.one_minus_alpha);
  const float wd = s.weight_decay, alpha = s.alpha, oma = s.one_minus_alpha, eps = s.eps;
  const float momentum = s.momentum, neg_lr = -s.lr;
  for (std::size_t i = 0; i < n; ++i) {
    const float pi = p[i];
    float g = grad[i];
    if constexpr (kDecay) g = g + wd * pi;
    const float sa = sq[i] * alpha + (oma * g) * g;
    sq[i] = sa;
    float avg;
    if constexpr (kCentered) {
      const float ga0 = gavg[i];
      const float ga = (lerp.from_a ? ga0 : g) + lerp.coeff * (g - ga0);
      gavg[i] = ga;
      avg = __builtin_sqrtf(sa + (-ga) * ga) + eps;
    } else {
      avg = __builtin_sqrtf(sa) + eps;
    }
    if constexpr (kMomentum) {
      const float b = buf[i] * momentum + g / avg;
      buf[i] = b;
      p[i] = pi + neg_lr * b;
    } else {
      p[i] = pi + (neg_lr * g) / avg;
    }
  }
}

void rmsprop_step(std::size_t n, float* p, const float* grad, float* sq, float* gavg, float* buf,
                  const mlpcore::RmspropStep& s) {
  const bool decay = s.weight_decay != 0.0f;
  const int which = (decay ? 4 : 0) + (gavg ? 2 : 0) + (buf ? 1 : 0);
  switch (which) {
    case 0: return rmsprop_step_t<false, false, false>(n, p, grad, sq, gavg, buf, s);
    case 1: return rmsprop_step_t<false, false, true>(n, p, grad, sq, gavg, buf, s);
    case 2: return rmsprop_step_t<false, true, false>(n, p, grad, sq, gavg, buf, s);
    case 3: return rmsprop_step_t<false, true, true>(n, p, grad, sq, gavg, buf, s);
    case 4: return rmsprop_step_t<true, false, false>(n, p, grad, sq, gavg, buf, s);
    case 5: return rmsprop_step_t<true, false, true>(n, p, grad, sq, gavg, buf, s);
    case 6: return rmsprop_step_t<true, true, false>(n, p, grad, sq, gavg, buf, s);
    default: return rmsprop_step_t<true, true, true>(n, p, grad, sq, gavg, buf, s);
  }
}

template <bool kDecay>
void adagrad_step_t(std::size_t n, float* __restrict p, const float* __restrict grad, float* __restrict sum,
                    const mlpcore::AdagradStep& s) {
  const float wd = s.weight_decay, neg_clr = -s.clr, eps = s.eps;
  for (std::size_t i = 0; i < n; ++i) {
    const float pi = p[i];
    float g = grad[i];
    if constexpr (kDecay) g = g + wd * pi;
    const float ss = sum[i] + g * g;
    sum[i] = ss;
    p[i] = pi + (neg_clr * g) / (__builtin_sqrtf(ss) + eps);
  }
}

void adagrad_step(std::size_t n, float* p, const float* grad, float* sum, const mlpcore::AdagradStep& s) {
  return s.weight_decay != 0.0f ? adagrad_step_t<true>(n, p, grad, sum, s)
                                : adagrad_step_t<false>(n, p, grad, sum, s);
}

// |x| as an integer: for non-negative floats the integer order is the float
// order, and infinities and NaNs sort above every finite value. Independent
// lanes keep the maximum from being one long dependency chain.
float max_abs(std::size_t n, const float* x) {
  constexpr std::size_t kLanes = 16;
  std::int32_t lane[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t j = 0; j < kLanes; ++j) {
      std::int32_t b;
      std::memcpy(&b, x + i + j, sizeof b);
      b &= 0x7fffffff;
      lane[j] = b > lane[j] ? b : lane[j];
    }
  }
  std::int32_t m = 0;
  for (; i < n; ++i) {
    std::int32_t b;
    std::memcpy(&b, x + i, sizeof b);
    b &= 0x7fffffff;
    m = b > m ? b : m;
  }
  for (std::size_t j = 0; j < kLanes; ++j) m = lane[j] > m ? lane[j] : m;
  return bits_to_float(m);
}

// Fills the elementwise entries of a table with this ISA's copies.
void fill_elementwise(mlpcore::KernelTable& t) {
  t.bias_act_rows = bias_act_rows;
  t.act_forward = act_forward;
  t.act_backward = act_backward;
  t.softmax_rows = softmax_rows;
  t.column_sums = column_sums;
  t.sgd_step = sgd_step;
  t.adam_step = adam_step;
  t.rmsprop_step = rmsprop_step;
  t.adagrad_step = adagrad_step;
  t.max_abs = max_abs;
}
