// One thread knob for the whole library, on top of OpenMP (serial without it).
#pragma once

#include <cstddef>

namespace mlpcore {

bool openmp_enabled();
// Threads a parallel region may use: follows set_num_threads, OMP_NUM_THREADS
// and threadpoolctl (all of which set OpenMP's own setting).
int max_threads();
void set_num_threads(int n);

// Threads worth using for `work` units of roughly `unit_cost` flops each:
// small jobs run on one thread, where waking others costs more than it saves.
int threads_for(double flops);

// Caps the threads of the parallel regions the calling thread starts (on top
// of max_threads()) until the guard ends, without touching the OpenMP setting
// the user chose or other threads: the fit loop steps on fewer threads while
// that measures faster.
class ThreadCapGuard {
 public:
  ThreadCapGuard();
  ~ThreadCapGuard();
  ThreadCapGuard(const ThreadCapGuard&) = delete;
  ThreadCapGuard& operator=(const ThreadCapGuard&) = delete;
  void set(int cap);  // at least 1

 private:
  int saved_;
};

}  // namespace mlpcore
