// How many threads each step of the fit loop runs on: all that are allowed, or
// one, whichever measures faster.
#pragma once

#include <cstddef>

namespace mlpcore {

// The results never depend on the thread count (every kernel sums in a fixed
// order), only the speed does. On an idle machine all threads win. When
// another process holds a core, threads that meet at a barrier in every
// product wait for whichever was descheduled, and a step on all threads can
// take longer than on one (docs/gemm.md, "Threads on a busy host", has the
// figures). So the loop times its steps, runs on the faster of the two, and
// now and then probes the other for a few steps, often enough to follow a
// change of load, rarely enough that probing costs little.
class StepThreads {
 public:
  explicit StepThreads(int max_threads);

  int max_threads() const { return max_threads_; }
  // Threads for the next step.
  int next();
  // The time a step on `threads` threads took, per row of its batch.
  void record(int threads, double seconds_per_row);

 private:
  static constexpr int kWindow = 8;
  // A probe runs this many steps and counts all but the first: the first pays
  // for the switch (waking threads, or the idle ones still spinning beside
  // it), which a run of steps on that option would not.
  static constexpr int kProbeSteps = 3;

  int choice(int option) const { return option == 0 ? max_threads_ : 1; }
  double current_estimate() const;
  void update_interval();

  int max_threads_;
  int current_ = 0;  // option in use: 0 all threads, 1 one thread
  // The option in use is judged by the median of its last kWindow steps, the
  // other by the median of its last probe's counted steps. Not by the fastest:
  // beside another process all threads may run at full speed for the odd step
  // (the other process descheduled) and at a fraction of it for most, and the
  // fastest step would hide that.
  double recent_[kWindow] = {};
  int recent_count_ = 0, recent_next_ = 0;
  double other_ = -1.0;  // seconds per row; < 0: not measured yet
  int probe_left_ = 0;    // steps of the probe under way still to hand out
  int probe_seen_ = 0;    // its steps recorded so far
  double probe_times_[kProbeSteps - 1] = {};
  bool warmed_up_ = false;
  bool recheck_ = false;  // the loop just switched on a narrow win: probe the option left after kMinInterval steps
  std::size_t steps_since_probe_ = 0;
  std::size_t probe_interval_;
};

}  // namespace mlpcore
