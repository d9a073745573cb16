// What a benchmark reports its figures against: the CPU's name and the peak
// single-precision FMA throughput of one of its cores, measured, so that
// figures from different machines can be read side by side as fractions.
#pragma once

#include <string>

#include "mlpcore/kernel_table.h"

namespace mlpcore {

// The CPU's model name as it reports it (CPUID's brand string on x86-64, else
// the operating system's), "unknown CPU" where nothing says.
std::string cpu_model_name();

// FLOP/s of one core running independent chains of `isa`'s widest FMAs on
// registers only (the ceiling any micro-kernel can reach): the fastest of many
// short runs, so that time lost to other processes on a shared host does not
// count. About 0.3 s. 0 where no such loop exists for `isa` on this build.
double measure_fma_peak(Isa isa);

}  // namespace mlpcore
