#include "mlpcore/threads.h"

#include <algorithm>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace mlpcore {

bool openmp_enabled() {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

namespace {
// The calling thread's cap from ThreadCapGuard; 0: none.
thread_local int t_thread_cap = 0;
}  // namespace

int max_threads() {
#if defined(_OPENMP)
  const int n = omp_get_max_threads();
  return t_thread_cap > 0 ? std::min(n, t_thread_cap) : n;
#else
  return 1;
#endif
}

void set_num_threads(int n) {
#if defined(_OPENMP)
  omp_set_num_threads(std::max(1, n));
#else
  (void)n;
#endif
}

int threads_for(double flops) {
  // Waking a thread costs a few microseconds; give each one at least ~1 MFLOP
  // (a few microseconds of work at vector speed) so small products stay serial.
  constexpr double kFlopsPerThread = 1.0e6;
  const int by_work = static_cast<int>(std::min(flops / kFlopsPerThread, 1024.0));
  return std::max(1, std::min(max_threads(), by_work));
}

ThreadCapGuard::ThreadCapGuard() : saved_(t_thread_cap) {}

ThreadCapGuard::~ThreadCapGuard() { t_thread_cap = saved_; }

void ThreadCapGuard::set(int cap) { t_thread_cap = std::max(1, cap); }

}  // namespace mlpcore
