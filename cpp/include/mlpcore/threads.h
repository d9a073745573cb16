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

}  // namespace mlpcore
