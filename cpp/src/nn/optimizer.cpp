#include "mlpcore/optimizer.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mlpcore {

std::vector<DecaySpan> decay_spans(const std::vector<std::pair<std::size_t, std::size_t>>& exempt,
                                   std::size_t size, std::size_t max_piece) {
  std::vector<std::pair<std::size_t, std::size_t>> sorted(exempt);
  std::sort(sorted.begin(), sorted.end());
  std::vector<DecaySpan> spans;
  auto add = [&](std::size_t begin, std::size_t end, bool decay) {
    for (std::size_t b = begin; b < end;) {
      const std::size_t n = std::min(max_piece, end - b);
      spans.push_back({b, n, decay});
      b += n;
    }
  };
  std::size_t at = 0;
  for (const auto& [begin, end] : sorted) {
    if (begin > end || end > size || begin < at) {
      throw std::invalid_argument("decay_exempt: expected sorted, disjoint ranges within [0, " +
                                  std::to_string(size) + ")");
    }
    add(at, begin, true);
    add(begin, end, false);
    at = end;
  }
  add(at, size, true);
  return spans;
}

double OptimizerSettings::lr() const {
  switch (kind) {
    case OptimizerKind::sgd: return sgd.lr;
    case OptimizerKind::adam: return adam.lr;
    case OptimizerKind::rmsprop: return rmsprop.lr;
    case OptimizerKind::adagrad: return adagrad.lr;
  }
  return 0.0;
}

OptimizerSettings OptimizerSettings::with_lr(double lr) const {
  OptimizerSettings s = *this;
  switch (kind) {
    case OptimizerKind::sgd: s.sgd.lr = static_cast<float>(lr); break;
    case OptimizerKind::adam: s.adam.lr = lr; break;
    case OptimizerKind::rmsprop: s.rmsprop.lr = lr; break;
    case OptimizerKind::adagrad: s.adagrad.lr = lr; break;
  }
  validate(s);
  return s;
}

void validate(const OptimizerSettings& s) {
  switch (s.kind) {
    case OptimizerKind::sgd: validate(s.sgd); break;
    case OptimizerKind::adam: validate(s.adam); break;
    case OptimizerKind::rmsprop: validate(s.rmsprop); break;
    case OptimizerKind::adagrad: validate(s.adagrad); break;
  }
}

std::vector<int> state_slots(const OptimizerSettings& s) {
  switch (s.kind) {
    case OptimizerKind::sgd: return s.sgd.momentum != 0.0f ? std::vector<int>{0} : std::vector<int>{};
    case OptimizerKind::adam: return s.adam.amsgrad ? std::vector<int>{0, 1, 2} : std::vector<int>{0, 1};
    case OptimizerKind::rmsprop: {
      std::vector<int> slots{0};
      if (s.rmsprop.centered) slots.push_back(1);
      if (s.rmsprop.momentum > 0.0) slots.push_back(2);
      return slots;
    }
    case OptimizerKind::adagrad: return {0};
  }
  return {};
}

Optimizer::Optimizer(OptimizerSettings settings, std::size_t param_count, const Backend& backend)
    : backend_(&backend), settings_(settings), size_(param_count) {
  validate(settings_);
  for (int slot : state_slots(settings_)) states_[slot].emplace(backend, param_count);
  reset_state();
  set_decay_exempt({});
}

const char* Optimizer::state_name(int slot) const {
  static const char* const names[4][kMaxStates] = {
      {"momentum_buffer", "", ""},
      {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
      {"square_avg", "grad_avg", "momentum_buffer"},
      {"sum", "", ""},
  };
  return names[static_cast<int>(settings_.kind)][slot];
}

int Optimizer::state_count() const { return static_cast<int>(state_slots(settings_).size()); }

void Optimizer::reset_state() {
  for (int slot = 0; slot < kMaxStates; ++slot) {
    if (!states_[slot]) continue;
    if (settings_.kind == OptimizerKind::adagrad && settings_.adagrad.initial_accumulator_value != 0.0) {
      const std::vector<float> first(size_, static_cast<float>(settings_.adagrad.initial_accumulator_value));
      states_[slot]->upload(first.data(), size_);
    } else {
      states_[slot]->fill_zero();
    }
  }
  guard_.reset();
}

void Optimizer::to(const Backend& backend) {
  if (&backend == backend_) return;
  for (auto& state : states_) {
    if (!state) continue;
    std::vector<float> host(size_);
    state->download(host.data(), size_);
    DeviceBuffer<float> moved(backend, size_);
    moved.upload(host.data(), size_);
    *state = std::move(moved);
  }
  backend_ = &backend;
  set_decay_exempt(exempt_);  // the new backend may cut updates into other pieces
  guard_.reset();
}

void Optimizer::set_decay_exempt(const std::vector<std::pair<std::size_t, std::size_t>>& ranges) {
  spans_ = decay_spans(ranges, size_, backend_->update_piece);
  exempt_ = ranges;
}

void Optimizer::set_settings(const OptimizerSettings& settings) {
  validate(settings);
  if (settings.kind != settings_.kind || state_slots(settings) != state_slots(settings_)) {
    throw std::invalid_argument("optimizer: new settings must keep the kind and its state buffers");
  }
  settings_ = settings;
}

void Optimizer::update(float* params, const float* grads, Verdict* verdict, Verdict code, double gradient_bound) {
  OptimizerUpdate u;
  u.kind = settings_.kind;
  const std::uint64_t t = steps_ + 1;  // this update's number, as torch counts it
  switch (settings_.kind) {
    case OptimizerKind::sgd:
      u.sgd = settings_.sgd;
      u.first_step = steps_ == 0;
      break;
    case OptimizerKind::adam: u.adam = adam_step_scalars(settings_.adam, t); break;
    case OptimizerKind::rmsprop: u.rmsprop = rmsprop_step_scalars(settings_.rmsprop); break;
    case OptimizerKind::adagrad: u.adagrad = adagrad_step_scalars(settings_.adagrad, t); break;
  }
  u.spans = &spans_;
  u.size = size_;
  u.params = params;
  u.grads = grads;
  for (int slot = 0; slot < kMaxStates; ++slot) u.state[slot] = states_[slot] ? states_[slot]->data() : nullptr;
  u.gradient_bound = gradient_bound;
  backend_->optimizer_update(u, guard_, verdict, code);
  ++steps_;
}

}  // namespace mlpcore
