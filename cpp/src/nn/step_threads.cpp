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
constexpr std::size_t kFirstProbe = 3;
// The other option must be this much faster before the loop switches to it.
constexpr double kSwitchMargin = 0.95;
// A switch that gained less than this factor is checked again after kMinInterval steps.
constexpr double kRecheckBelow = 0.5;
}  // namespace

StepThreads::StepThreads(int max_threads) : max_threads_(std::max(1, max_threads)), probe_interval_(kFirstProbe) {}

int StepThreads::next() {
  if (max_threads_ == 1) return 1;
  if (probe_left_ == 0 && steps_since_probe_ >= probe_interval_) {
    probe_left_ = kProbeSteps;
    probe_seen_ = 0;
    steps_since_probe_ = 0;
    recheck_ = false;
  }
  if (probe_left_ > 0) {
    --probe_left_;
    return choice(1 - current_);
  }
  ++steps_since_probe_;
  return choice(current_);
}

namespace {
// The median of the first `count` values (1 <= count <= N), without allocating.
template <int N>
double median(const double (&values)[N], int count) {
  double sorted[N];
  for (int i = 0; i < count; ++i) {  // insertion sort: a handful of values
    int j = i;
    for (; j > 0 && sorted[j - 1] > values[i]; --j) sorted[j] = sorted[j - 1];
    sorted[j] = values[i];
  }
  return count % 2 ? sorted[count / 2] : 0.5 * (sorted[count / 2 - 1] + sorted[count / 2]);
}
}  // namespace

double StepThreads::current_estimate() const { return median(recent_, recent_count_); }

void StepThreads::record(int threads, double seconds_per_row) {
  if (max_threads_ == 1 || !(seconds_per_row > 0.0) || !std::isfinite(seconds_per_row)) return;
  if (!warmed_up_) {  // the first step also starts threads and first touches the workspace
    warmed_up_ = true;
    return;
  }
  const int option = threads == max_threads_ ? 0 : 1;
  if (option != current_) {
    ++probe_seen_;  // the first step of a probe is not counted
    if (probe_seen_ >= 2) probe_times_[probe_seen_ - 2] = seconds_per_row;
    if (probe_left_ > 0 || probe_seen_ < 2) return;  // the probe goes on (or lost its steps to a short batch)
    other_ = median(probe_times_, probe_seen_ - 1);
  } else {
    recent_[recent_next_] = seconds_per_row;
    recent_next_ = (recent_next_ + 1) % kWindow;
    recent_count_ = std::min(recent_count_ + 1, kWindow);
  }
  if (recent_count_ > 0 && other_ >= 0.0 && other_ < kSwitchMargin * current_estimate()) {
    // The probe won: its option takes over, judged from its probe until it has
    // steps of its own; the option left keeps its recent time.
    const double left = current_estimate(), won = other_;
    current_ = 1 - current_;
    recent_[0] = won;
    recent_count_ = 1;
    recent_next_ = 1;
    other_ = left;
    // A narrow win is looked at again soon (one probe can mislead); a wide one
    // is not: beside a busy process a step on all threads can take ten times
    // one thread's, and a second look soon would cost more than it could find.
    recheck_ = won > kRecheckBelow * left;
  }
  update_interval();
}

void StepThreads::update_interval() {
  if (recent_count_ == 0 || other_ < 0.0) {
    probe_interval_ = kFirstProbe;
  } else if (recheck_) {
    probe_interval_ = kMinInterval;
  } else {
    const double now = current_estimate();
    const double steps = kProbeCostRatio * kProbeSteps * std::max(0.0, other_ - now) / now;
    probe_interval_ = std::clamp(static_cast<std::size_t>(steps), kMinInterval, kMaxInterval);
  }
}

}  // namespace mlpcore
