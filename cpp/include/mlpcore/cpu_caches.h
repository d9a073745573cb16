// The data caches of the CPU present, read once at run time: CPUID (leaf 4 on
// Intel, 0x8000001D on AMD and Hygon, 0x80000005/6 on older AMD), else the
// operating system's view (Linux sysfs, macOS sysctl, Windows
// GetLogicalProcessorInformationEx). The GEMM's block sizes are derived from
// them (gemm_blocking.h); the per-ISA tables are used where nothing can be read.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mlpcore {

// One cache level as reported: its size and how many cores share it (0 when
// not reported). Sharing is counted in cores, not hardware threads: a core's
// SMT siblings share its L1 and L2 anyway.
struct CacheLevel {
  std::size_t bytes = 0;  // 0: not reported
  int cores = 0;
};

// What the CPU or the OS reports, before any judgement.
struct CacheReport {
  CacheLevel l1d, l2, l3;
  std::string source;  // "cpuid", "sysfs", "sysctl", "windows", or "none"
};

// The sizes the GEMM derives its blocking from: one core's share of each level,
// in bytes, 0 where the level is unknown or its report was implausible.
struct CacheSizes {
  std::size_t l1d = 0, l2 = 0, l3 = 0;
};

struct CachesInUse {
  CacheSizes per_core;
  std::string source;                   // as in CacheReport
  std::vector<std::string> distrusted;  // one line per report set aside, and why
};

// A core's share of each reported level, with implausible values set aside
// (a virtual machine may report a 480 MiB L3 shared by its 2 cores): a share
// outside [4 KiB, 256 KiB] for L1d, [64 KiB, 32 MiB] for L2, or [256 KiB,
// 32 MiB] for L3 (the largest real ones are about 12 MiB a core) counts as
// unknown. Pure: no hardware access.
CachesInUse caches_in_use(const CacheReport& report);

// Reads the caches of the CPU this runs on (uncached; hardware and OS queries).
CacheReport read_cpu_caches();

// caches_in_use(read_cpu_caches()), computed on first call, then cached.
const CachesInUse& cpu_caches();

}  // namespace mlpcore
