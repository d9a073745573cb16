// How many threads each step of the fit loop runs on: all that are allowed, or
// one, whichever measures faster.
#pragma once

#include <cstddef>

namespace mlpcore {

// The results never depend on the thread count (every kernel sums in a fixed
// order), only the speed does. On an idle machine all threads win. When
// another process holds a core, threads that meet at a barrier in every
// product wait for whichever was descheduled: measured on 2 cores with a
// 2-thread job beside it, a 784-512-256-10 step at batch 128 took 10x longer
// on 2 threads than on 1. So the loop times its steps, runs on the faster of
// the two, and now and then probes the other with a single step, often enough
// to follow a change in load, rarely enough that probing costs about 1 %.
class StepThreads {
 public:
  explicit StepThreads(int max_threads);

  int max_threads() const { return max_threads_; }
  // Threads for the next step.
  int next();
  // The time a step on `threads` threads took, per row of its batch.
  void record(int threads, double seconds_per_row);

 private:
  int choice(int option) const { return option == 0 ? max_threads_ : 1; }
  void update_interval();

  int max_threads_;
  int current_ = 0;                   // option in use: 0 all threads, 1 one thread
  double estimate_[2] = {-1.0, -1.0};  // seconds per row, an average of recent steps; < 0: unknown
  bool warmed_up_ = false;
  std::size_t steps_since_probe_ = 0;
  std::size_t probe_interval_;
};

}  // namespace mlpcore
