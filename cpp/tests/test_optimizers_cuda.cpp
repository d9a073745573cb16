// The CUDA optimizer updates (mlpcore/cuda/optimizer_kernels.h) against the CPU
// ones (mlpcore/optimizer_kernels.h, the portable kernels: every operation
// rounded as written) on the same data:
// - 50 steps of every option that changes the arithmetic (Adam/AdamW x amsgrad
//   x weight decay, RMSprop centered x momentum x weight decay, Adagrad
//   lr_decay x initial accumulator x weight decay), n = 1, 17, 1000, 100003:
//   parameters and state within 1e-5 of the CPU's, relative to each value or,
//   near 0, to the array's rms (nvcc fuses multiply-adds the CPU rounds twice;
//   the Python tests bound both against float64 and torch.optim);
// - the skip flag: *skip != 0 leaves every array bitwise unchanged; *skip == 0
//   updates as a null skip does.
// The data are well conditioned (gradients of random sign, at least 0.3 of the
// element's scale, far above weight_decay * |param|), as in
// tests/test_optimizer_kernels.py. Needs a GPU: exits 77 (CTest: skipped) without one.
//
//   cmake -S . -B build/cuda-tests -DMLPCORE_PYTHON=OFF -DMLPCORE_TESTS=ON -DMLPCORE_CUDA=ON
//   cmake --build build/cuda-tests && build/cuda-tests/test_optimizers_cuda
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "mlpcore/cuda/backend.h"
#include "mlpcore/cuda/device.h"
#include "mlpcore/cuda/optimizer_kernels.h"
#include "mlpcore/dispatch.h"
#include "mlpcore/optimizer_configs.h"
#include "mlpcore/optimizer_kernels.h"

using namespace mlpcore;

namespace {

constexpr int kSteps = 50;
constexpr double kTolerance = 1e-5;
constexpr double kWeightDecay = 0.01;

enum class Kind { adam, rmsprop, adagrad };

struct Case {
  Kind kind;
  bool a, b, decay;  // adam: decoupled, amsgrad; rmsprop: centered, momentum; adagrad: lr_decay, initial
  std::size_t n;

  std::string name() const {
    const char* k = kind == Kind::adam ? "adam" : kind == Kind::rmsprop ? "rmsprop" : "adagrad";
    return std::string(k) + "-" + (a ? "1" : "0") + (b ? "1" : "0") + (decay ? "1" : "0") + " n=" + std::to_string(n);
  }
  // State buffers: Adam exp_avg, exp_avg_sq (+ max); RMSprop square_avg (+ grad_avg) (+ momentum); Adagrad sum.
  std::size_t buffers() const {
    if (kind == Kind::adam) return b ? 3 : 2;
    if (kind == Kind::rmsprop) return 1 + (a ? 1 : 0) + (b ? 1 : 0);
    return 1;
  }
  float initial() const { return kind == Kind::adagrad && b ? 0.1f : 0.0f; }
};

struct Optimizer {
  AdamConfig adam;
  RmspropConfig rmsprop;
  AdagradConfig adagrad;
};

Optimizer settings(const Case& c) {
  Optimizer o;
  o.adam.lr = 1e-2;
  o.adam.decoupled = c.a;
  o.adam.amsgrad = c.b;
  o.adam.weight_decay = c.decay ? kWeightDecay : 0.0;
  o.rmsprop.centered = c.a;
  o.rmsprop.momentum = c.b ? 0.9 : 0.0;
  o.rmsprop.weight_decay = c.decay ? kWeightDecay : 0.0;
  o.adagrad.lr = 1e-1;
  o.adagrad.lr_decay = c.a ? 0.01 : 0.0;
  o.adagrad.initial_accumulator_value = c.initial();
  o.adagrad.weight_decay = c.decay ? kWeightDecay : 0.0;
  return o;
}

// The arrays of one update: param, grad and the state buffers (null when unused).
struct Arrays {
  float* p;
  const float* g;
  float* s[3];
};

void cpu_step(const Case& c, const Optimizer& o, std::size_t t, std::size_t n, Arrays a) {
  switch (c.kind) {
    case Kind::adam:
      adam_step(n, a.p, a.g, a.s[0], a.s[1], a.s[2], adam_step_scalars(o.adam, t));
      break;
    case Kind::rmsprop:
      rmsprop_step(n, a.p, a.g, a.s[0], a.s[1], a.s[2], rmsprop_step_scalars(o.rmsprop));
      break;
    case Kind::adagrad:
      adagrad_step(n, a.p, a.g, a.s[0], adagrad_step_scalars(o.adagrad, t));
      break;
  }
}

void gpu_step(const Case& c, const Optimizer& o, std::size_t t, std::size_t n, Arrays a, const Verdict* skip) {
  switch (c.kind) {
    case Kind::adam:
      cuda::adam_step(n, a.p, a.g, a.s[0], a.s[1], a.s[2], adam_step_scalars(o.adam, t), skip);
      break;
    case Kind::rmsprop:
      cuda::rmsprop_step(n, a.p, a.g, a.s[0], a.s[1], a.s[2], rmsprop_step_scalars(o.rmsprop), skip);
      break;
    case Kind::adagrad:
      cuda::adagrad_step(n, a.p, a.g, a.s[0], adagrad_step_scalars(o.adagrad, t), skip);
      break;
  }
}

// Where each state buffer goes among the kernel's three optional slots.
std::vector<int> slots(const Case& c) {
  if (c.kind == Kind::adam) return c.b ? std::vector<int>{0, 1, 2} : std::vector<int>{0, 1};
  if (c.kind == Kind::rmsprop) {
    std::vector<int> out{0};
    if (c.a) out.push_back(1);
    if (c.b) out.push_back(2);
    return out;
  }
  return {0};
}

double rel_err(const std::vector<float>& got, const std::vector<float>& ref) {
  double sq = 0.0;
  for (float r : ref) sq += static_cast<double>(r) * r;
  const double rms = std::max(std::sqrt(sq / static_cast<double>(std::max<std::size_t>(ref.size(), 1))), 1e-30);
  double worst = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - ref[i]);
    worst = std::max(worst, d / std::max(std::fabs(static_cast<double>(ref[i])), rms));
  }
  return worst;
}

struct Data {
  std::vector<float> p;
  std::vector<std::vector<float>> s;
};

class Runner {
 public:
  explicit Runner(const Case& c) : c_(c), o_(settings(c)), rng_(12345 + c.n), scale_(c.n), grad_(c.n) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (float& v : scale_) v = static_cast<float>(std::exp(u(rng_)));
    std::normal_distribution<float> z;
    host_.p.resize(c.n);
    for (float& v : host_.p) v = z(rng_);
    host_.s.assign(c.buffers(), std::vector<float>(c.n, 0.0f));
    if (c.kind == Kind::adagrad) std::fill(host_.s[0].begin(), host_.s[0].end(), c.initial());
    d_p_.upload(host_.p.data(), c.n);
    for (std::size_t k = 0; k < c.buffers(); ++k) {
      d_s_.emplace_back(cuda::backend(), c.n);
      d_s_[k].upload(host_.s[k].data(), c.n);
    }
    d_g_.resize(c.n);
  }

  void next_grad() {
    std::normal_distribution<float> z;
    for (std::size_t i = 0; i < c_.n; ++i) {
      const float v = z(rng_);
      grad_[i] = (v < 0 ? -1.0f : 1.0f) * (0.3f + std::fabs(v)) * scale_[i];
    }
    d_g_.upload(grad_.data(), c_.n);
  }

  void step_cpu(std::size_t t) { cpu_step(c_, o_, t, c_.n, host_arrays()); }
  void step_gpu(std::size_t t, const Verdict* skip) { gpu_step(c_, o_, t, c_.n, device_arrays(), skip); }

  const Data& host() const { return host_; }
  Data device() const {
    Data d;
    d.p = d_p_.to_vector(c_.n);
    for (const auto& s : d_s_) d.s.push_back(s.to_vector(c_.n));
    return d;
  }

 private:
  Case c_;
  Optimizer o_;
  std::mt19937 rng_;
  std::vector<float> scale_, grad_;
  Data host_;
  DeviceBuffer<float> d_p_{cuda::backend(), 0}, d_g_{cuda::backend(), 0};
  std::vector<DeviceBuffer<float>> d_s_;

  Arrays host_arrays() {
    Arrays a{host_.p.data(), grad_.data(), {nullptr, nullptr, nullptr}};
    const std::vector<int> where = slots(c_);
    for (std::size_t k = 0; k < where.size(); ++k) a.s[where[k]] = host_.s[k].data();
    return a;
  }
  Arrays device_arrays() {
    Arrays a{d_p_.data(), d_g_.data(), {nullptr, nullptr, nullptr}};
    const std::vector<int> where = slots(c_);
    for (std::size_t k = 0; k < where.size(); ++k) a.s[where[k]] = d_s_[k].data();
    return a;
  }
};

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("FAIL %s\n", what.c_str());
    ++failures;
  }
}

bool bitwise_equal(const Data& a, const Data& b) {
  if (std::memcmp(a.p.data(), b.p.data(), a.p.size() * sizeof(float)) != 0) return false;
  for (std::size_t k = 0; k < a.s.size(); ++k) {
    if (std::memcmp(a.s[k].data(), b.s[k].data(), a.s[k].size() * sizeof(float)) != 0) return false;
  }
  return true;
}

void compare(const Case& c, const Data& gpu, const Data& cpu, const char* when) {
  check(rel_err(gpu.p, cpu.p) <= kTolerance, c.name() + " " + when + ": param");
  for (std::size_t k = 0; k < cpu.s.size(); ++k) {
    check(rel_err(gpu.s[k], cpu.s[k]) <= kTolerance, c.name() + " " + when + ": state buffer " + std::to_string(k));
  }
}

void run(const Case& c) {
  Runner r(c);
  DeviceBuffer<Verdict> flag(cuda::backend(), 1);
  const Verdict on = 1, off = 0;
  for (std::size_t t = 1; t <= kSteps; ++t) {
    r.next_grad();
    r.step_cpu(t);
    if (t == 3) {  // a diverged step: the flag set, nothing may change
      flag.upload(&on, 1);
      const Data before = r.device();
      r.step_gpu(t, flag.data());
      check(bitwise_equal(r.device(), before), c.name() + ": an update with *skip != 0 changed something");
    }
    if (t % 2 == 0) {
      flag.upload(&off, 1);
      r.step_gpu(t, flag.data());
    } else {
      r.step_gpu(t, nullptr);
    }
  }
  cuda::synchronize();
  compare(c, r.device(), r.host(), "after 50 steps");
}

}  // namespace

int main() {
  if (cuda::device_count() == 0) {
    std::printf("test_optimizers_cuda: skipped, no CUDA device (%s)\n", cuda::device_count_error().c_str());
    return 77;
  }
  try {
    select_isa("generic");  // the oracle: every operation rounded as written
    int cases = 0;
    for (Kind kind : {Kind::adam, Kind::rmsprop, Kind::adagrad}) {
      for (int bits = 0; bits < 8; ++bits) {
        for (std::size_t n : {std::size_t{1}, std::size_t{17}, std::size_t{1000}, std::size_t{100003}}) {
          run(Case{kind, (bits & 4) != 0, (bits & 2) != 0, (bits & 1) != 0, n});
          ++cases;
        }
      }
    }
    std::printf("test_optimizers_cuda on %s: %d cases, %d failures\n", cuda::device_name().c_str(), cases, failures);
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
  return failures ? 1 : 0;
}
