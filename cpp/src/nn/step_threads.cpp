#include "mlpcore/step_threads.h"

#include <algorithm>
#include <cmath>

namespace mlpcore {
namespace {
// Steps between probes: the probe's expected extra time, this many times over,
// is spent first (about 1 % overhead), within bounds that keep the loop
// responsive to a change of load and cheap when both options are alike.
constexpr double kProbeCostRatio = 100.0;
constexpr std::size_t kMinInterval = 16, kMaxInterval = 4096;
// The first probe comes early, so that a short fit on a loaded machine learns
// in its first epoch.
constexpr std::size_t kFirstProbe = 2;
// Weight of a new measurement in an option's running average.
constexpr double kSmoothing = 0.25;
// The other option must be this much faster before the loop switches to it.
constexpr double kSwitchMargin = 0.95;
}  // namespace

StepThreads::StepThreads(int max_threads) : max_threads_(std::max(1, max_threads)), probe_interval_(kFirstProbe) {}

int StepThreads::next() {
  if (max_threads_ == 1) return 1;
  if (steps_since_probe_ >= probe_interval_) {
    steps_since_probe_ = 0;
    return choice(1 - current_);
  }
  ++steps_since_probe_;
  return choice(current_);
}

void StepThreads::record(int threads, double seconds_per_row) {
  if (max_threads_ == 1 || !(seconds_per_row > 0.0) || !std::isfinite(seconds_per_row)) return;
  if (!warmed_up_) {  // the first step also starts threads and first touches the workspace
    warmed_up_ = true;
    return;
  }
  const int option = threads == max_threads_ ? 0 : 1;
  double& e = estimate_[option];
  // A probe replaces the other option's estimate outright: it is the only
  // news of that option since the last probe, however long ago that was.
  // The option in use is averaged, each step moving it by a factor of 1.25
  // at most: a lasting change of load shows within a few steps, a single
  // stalled step (the process preempted once) does not make the other option
  // look better and get a long turn.
  if (option == current_ && e >= 0.0) {
    e = (1.0 - kSmoothing) * e + kSmoothing * std::clamp(seconds_per_row, 0.5 * e, 2.0 * e);
  } else {
    e = seconds_per_row;
  }
  const int other = 1 - current_;
  if (estimate_[other] >= 0.0 && estimate_[other] < kSwitchMargin * estimate_[current_]) current_ = other;
  update_interval();
}

void StepThreads::update_interval() {
  const double now = estimate_[current_], other = estimate_[1 - current_];
  if (now <= 0.0 || other < 0.0) {
    probe_interval_ = kFirstProbe;
    return;
  }
  const double steps = kProbeCostRatio * std::max(0.0, other - now) / now;
  probe_interval_ = std::clamp(static_cast<std::size_t>(steps), kMinInterval, kMaxInterval);
}

}  // namespace mlpcore
