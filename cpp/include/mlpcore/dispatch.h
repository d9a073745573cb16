// Run-time choice of the kernel table: CPUID + XGETBV, once, with the
// MLPCORE_ISA environment variable able to force a lower instruction set.
#pragma once

#include <string>
#include <vector>

#include "mlpcore/kernel_table.h"

namespace mlpcore {

// The table in use. Chosen on first call (thread-safe), then cached.
const KernelTable& kernels();

// Name of an ISA as users write it: "generic", "neon", "avx2", "avx512".
const char* isa_name(Isa isa);

// ISAs compiled into this build that this CPU and OS can run, best first.
std::vector<Isa> supported_isas();

// True for an ISA whose kernels this build runs through a software emulation of
// its instructions (the test build cmake -DMLPCORE_EMULATE_AVX512=ON): correct
// results on any x86-64, at a fraction of the speed.
bool isa_emulated(Isa isa);

// The block sizes of an ISA's own table: the defaults, before the caches or
// MLPCORE_BLOCKING (kernels().sgemm_blocking is what the GEMM uses).
GemmBlocking table_blocking(Isa isa);

// Where the cache blocks in use come from: "caches" (derived from cpu_caches()),
// "table" (no cache could be read) or "MLPCORE_BLOCKING" (the environment).
const char* blocking_source();

// Switch the table in use (for tests and benchmarks). Throws std::invalid_argument
// for an unknown name or an ISA this machine cannot run.
void select_isa(const std::string& name);

}  // namespace mlpcore
