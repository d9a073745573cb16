#include "mlpcore/threads.h"

#include <algorithm>
#include <atomic>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
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
// set_num_threads' value; 0: not set.
std::atomic<int> g_num_threads{0};
std::atomic<bool> g_team_started{false}, g_forked_after_team{false};

#if defined(_OPENMP)
// OpenMP's default limit, as every new thread starts with it. omp_get_max_threads()
// reads the calling thread's own value, which threadpoolctl may have changed, so
// it is read once in a fresh thread.
int openmp_default_threads() {
  static const int value = [] {
    int n = 1;
    std::thread probe([&n] { n = omp_get_max_threads(); });
    probe.join();
    return std::max(1, n);
  }();
  return value;
}
#endif

#if defined(__unix__) || defined(__APPLE__)
void after_fork_in_child() {
  if (g_team_started.load(std::memory_order_relaxed)) g_forked_after_team.store(true, std::memory_order_relaxed);
}
[[maybe_unused]] const int g_atfork_registered = pthread_atfork(nullptr, nullptr, after_fork_in_child);
#endif
}  // namespace

int max_threads() {
#if defined(_OPENMP)
  if (g_forked_after_team.load(std::memory_order_relaxed)) return 1;
  const int own = omp_get_max_threads();
  const int process = g_num_threads.load(std::memory_order_relaxed);
  int n = own;
  if (process > 0) n = own != openmp_default_threads() ? std::min(process, own) : process;
  return t_thread_cap > 0 ? std::min(n, t_thread_cap) : n;
#else
  return 1;
#endif
}

void set_num_threads(int n) {
#if defined(_OPENMP)
  n = std::max(1, n);
  openmp_default_threads();  // read before this thread's own value changes
  g_num_threads.store(n, std::memory_order_relaxed);
  omp_set_num_threads(n);  // so that threadpoolctl reads and restores it in this thread
#else
  (void)n;
#endif
}

bool serial_after_fork() { return g_forked_after_team.load(std::memory_order_relaxed); }

void note_team_started() { g_team_started.store(true, std::memory_order_relaxed); }

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
