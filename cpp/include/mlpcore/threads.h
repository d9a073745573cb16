// One thread knob for the whole library, on top of OpenMP (serial without it),
// and the one way the library starts a team of threads (run_team).
#pragma once

#include <cstddef>

#include "mlpcore/float_env.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace mlpcore {

bool openmp_enabled();

// Threads a parallel region started by the calling thread may use. The
// process-wide setting (set_num_threads; until then OpenMP's default, from
// OMP_NUM_THREADS or the CPU count) holds in every thread, including threads
// started later. A thread whose own OpenMP limit differs from OpenMP's default
// (threadpoolctl's threadpool_limits, omp_set_num_threads) gets the smaller of
// the two. In a child forked after a team of threads ran, 1: OpenMP's threads
// do not survive fork, and GNU OpenMP's next team would wait for them forever.
int max_threads();
// The process-wide setting, for every thread (n >= 1).
void set_num_threads(int n);
// True in a process forked after a team ran here (its native work is serial).
bool serial_after_fork();

// Threads worth using for about `flops` of work: small jobs run on one thread,
// where waking others costs more than it saves.
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

// Notes that a team of threads is about to run (for serial_after_fork).
void note_team_started();

// Runs body(thread) on a team of `team` threads, thread = 0 .. team - 1 (0:
// the calling thread), each with the calling thread's floating-point control
// state (float_env.h) for the body's duration. One thread: body(0) directly,
// without an OpenMP region (even a one-thread region allocates a team and
// synchronises). Body must not throw: allocate before the team starts.
template <class Body>
void run_team(int team, Body&& body) {
#if defined(_OPENMP)
  if (team > 1) {
    note_team_started();
    const FloatControl control = float_control();
#pragma omp parallel num_threads(team)
    {
      FloatControlScope scope(control);
      body(omp_get_thread_num());
    }
    return;
  }
#else
  (void)team;
#endif
  body(0);
}

// body(i) for every i in [0, count), the indices claimed one at a time by a
// team of `team` threads (a thread slowed by another process takes fewer).
template <class Body>
void parallel_for_dynamic(int team, std::size_t count, Body&& body) {
  if (team <= 1 || count <= 1) {
    for (std::size_t i = 0; i < count; ++i) body(i);
    return;
  }
  run_team(team, [&](int) {
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i) body(static_cast<std::size_t>(i));
  });
}

}  // namespace mlpcore
