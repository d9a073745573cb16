#include "mlpcore/optimizer_configs.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

namespace mlpcore {

namespace {

// The shortest decimal that reads back as v ("0.1", not "0.10000000000000001"), as Python prints it.
std::string shortest_decimal(double v) {
  char text[40];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  return text;
}

// The same for a float32 value: the shortest decimal that reads back as that float.
std::string shortest_float_decimal(float v) {
  char text[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(v));
    if (std::strtof(text, nullptr) == v) break;
  }
  return text;
}

[[noreturn]] void bad(const char* what, const char* expected, double got) {
  throw std::invalid_argument(std::string(what) + ": expected " + expected + ", got " + shortest_decimal(got));
}

constexpr double kFloatMax = std::numeric_limits<float>::max();
constexpr double kFloatMin = std::numeric_limits<float>::min();  // smallest normal

// >= 0 and finite in float32; a positive value below float32's smallest normal
// would be flushed to 0 in native compute and silently do nothing.
void nonnegative(const char* what, double v) {
  if (!(v >= 0.0 && v <= kFloatMax)) bad(what, "a finite number >= 0", v);
  if (v != 0.0 && v < kFloatMin) bad(what, "0 or a number >= 1.1754944e-38 (float32's smallest normal)", v);
}

void in_unit_interval(const char* what, double v, bool closed) {
  if (!(v >= 0.0 && (closed ? v <= 1.0 : v < 1.0))) bad(what, closed ? "a number in [0, 1]" : "a number in [0, 1)", v);
  nonnegative(what, v);
}

void require_step(std::uint64_t step) {
  if (step < 1) throw std::invalid_argument("step: expected the number of this update, >= 1 (1 for the first), got 0");
}

}  // namespace

void validate(const SgdConfig& c) {
  auto bad = [](const char* what, const char* expected, float got) {
    throw std::invalid_argument(std::string(what) + ": expected " + expected + ", got " + shortest_float_decimal(got));
  };
  if (!(c.lr > 0.0f) || !std::isfinite(c.lr)) bad("lr", "a finite number > 0", c.lr);
  // A subnormal rate is flushed to 0 in native compute (float_env.h): no step would move.
  if (c.lr < std::numeric_limits<float>::min()) bad("lr", "a number >= 1.1754944e-38 (float32's smallest normal)", c.lr);
  if (!(c.momentum >= 0.0f && c.momentum < 1.0f)) bad("momentum", "a number in [0, 1)", c.momentum);
  if (!(c.dampening >= 0.0f && c.dampening <= 1.0f)) bad("dampening", "a number in [0, 1]", c.dampening);
  if (!(c.weight_decay >= 0.0f) || !std::isfinite(c.weight_decay)) {
    bad("weight_decay", "a finite number >= 0", c.weight_decay);
  }
  if (c.nesterov && (c.momentum <= 0.0f || c.dampening != 0.0f)) {
    throw std::invalid_argument("nesterov: requires momentum > 0 and dampening == 0");
  }
}

void validate(const AdamConfig& c) {
  nonnegative("lr", c.lr);
  in_unit_interval("betas[0]", c.beta1, false);
  in_unit_interval("betas[1]", c.beta2, false);
  nonnegative("eps", c.eps);
  nonnegative("weight_decay", c.weight_decay);
}

void validate(const RmspropConfig& c) {
  nonnegative("lr", c.lr);
  in_unit_interval("alpha", c.alpha, true);
  nonnegative("eps", c.eps);
  nonnegative("weight_decay", c.weight_decay);
  in_unit_interval("momentum", c.momentum, false);
}

void validate(const AdagradConfig& c) {
  nonnegative("lr", c.lr);
  nonnegative("lr_decay", c.lr_decay);
  nonnegative("weight_decay", c.weight_decay);
  nonnegative("initial_accumulator_value", c.initial_accumulator_value);
  nonnegative("eps", c.eps);
}

// torch/optim/adam.py, _single_tensor_adam (capturable=False): the Python
// floats of each step, in double; each becomes float32 where torch applies it.
AdamStep adam_step_scalars(const AdamConfig& c, std::uint64_t step) {
  require_step(step);
  const double t = static_cast<double>(step);
  const double bias_correction1 = 1.0 - std::pow(c.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(c.beta2, t);
  AdamStep s;
  if (c.weight_decay != 0.0) {
    if (c.decoupled) {
      s.param_scale = static_cast<float>(1.0 - c.lr * c.weight_decay);
    } else {
      s.weight_decay = static_cast<float>(c.weight_decay);
    }
  }
  s.lerp_weight = static_cast<float>(1.0 - c.beta1);
  s.beta2 = static_cast<float>(c.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - c.beta2);
  s.bias_correction2_sqrt = static_cast<float>(std::pow(bias_correction2, 0.5));  // Python's ** 0.5
  s.eps = static_cast<float>(c.eps);
  s.step_size = static_cast<float>(c.lr / bias_correction1);
  return s;
}

RmspropStep rmsprop_step_scalars(const RmspropConfig& c) {
  RmspropStep s;
  s.weight_decay = static_cast<float>(c.weight_decay);
  s.alpha = static_cast<float>(c.alpha);
  s.one_minus_alpha = static_cast<float>(1.0 - c.alpha);
  s.eps = static_cast<float>(c.eps);
  s.momentum = static_cast<float>(c.momentum);
  s.lr = static_cast<float>(c.lr);
  return s;
}

AdagradStep adagrad_step_scalars(const AdagradConfig& c, std::uint64_t step) {
  require_step(step);
  AdagradStep s;
  s.weight_decay = static_cast<float>(c.weight_decay);
  s.clr = static_cast<float>(c.lr / (1.0 + (static_cast<double>(step) - 1.0) * c.lr_decay));
  s.eps = static_cast<float>(c.eps);
  return s;
}

}  // namespace mlpcore
