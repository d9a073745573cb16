#include "mlpcore/machine_peak.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define MLPCORE_PEAK_X86 1
#endif
#if defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define MLPCORE_PEAK_NEON 1
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

namespace mlpcore {
namespace {

// Twelve independent FMA chains: two FMA pipes of 4-cycle latency need 8 in
// flight, so 12 run at the core's FMA throughput whatever its latency. Written
// in assembly so nothing else runs in the loop; registers zeroed first (stale
// ones could hold subnormals, which cost extra cycles on some CPUs).
#if defined(MLPCORE_PEAK_X86)
#define MLPCORE_FMA12(r)                                                                          \
  "vfmadd231ps %%" r "12, %%" r "13, %%" r "0\n\t" "vfmadd231ps %%" r "12, %%" r "13, %%" r "1\n\t" \
  "vfmadd231ps %%" r "12, %%" r "13, %%" r "2\n\t" "vfmadd231ps %%" r "12, %%" r "13, %%" r "3\n\t" \
  "vfmadd231ps %%" r "12, %%" r "13, %%" r "4\n\t" "vfmadd231ps %%" r "12, %%" r "13, %%" r "5\n\t" \
  "vfmadd231ps %%" r "12, %%" r "13, %%" r "6\n\t" "vfmadd231ps %%" r "12, %%" r "13, %%" r "7\n\t" \
  "vfmadd231ps %%" r "12, %%" r "13, %%" r "8\n\t" "vfmadd231ps %%" r "12, %%" r "13, %%" r "9\n\t" \
  "vfmadd231ps %%" r "12, %%" r "13, %%" r "10\n\t" "vfmadd231ps %%" r "12, %%" r "13, %%" r "11\n\t"
#define MLPCORE_ZERO14                                                                                 \
  "vpxor %%xmm0, %%xmm0, %%xmm0\n\tvpxor %%xmm1, %%xmm1, %%xmm1\n\tvpxor %%xmm2, %%xmm2, %%xmm2\n\t" \
  "vpxor %%xmm3, %%xmm3, %%xmm3\n\tvpxor %%xmm4, %%xmm4, %%xmm4\n\tvpxor %%xmm5, %%xmm5, %%xmm5\n\t" \
  "vpxor %%xmm6, %%xmm6, %%xmm6\n\tvpxor %%xmm7, %%xmm7, %%xmm7\n\tvpxor %%xmm8, %%xmm8, %%xmm8\n\t" \
  "vpxor %%xmm9, %%xmm9, %%xmm9\n\tvpxor %%xmm10, %%xmm10, %%xmm10\n\t"                            \
  "vpxor %%xmm11, %%xmm11, %%xmm11\n\tvpxor %%xmm12, %%xmm12, %%xmm12\n\t"                         \
  "vpxor %%xmm13, %%xmm13, %%xmm13\n\t"
#define MLPCORE_CLOBBER14 \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc"

void fma_loop_avx2(long iters) {
  __asm__ volatile(MLPCORE_ZERO14 "1:\n\t" MLPCORE_FMA12("ymm") "dec %0\n\tjnz 1b\n\t"
                   : "+r"(iters) : : MLPCORE_CLOBBER14);
}

void fma_loop_avx512(long iters) {
  __asm__ volatile(MLPCORE_ZERO14 "1:\n\t" MLPCORE_FMA12("zmm") "dec %0\n\tjnz 1b\n\t"
                   : "+r"(iters) : : MLPCORE_CLOBBER14);
}
#undef MLPCORE_FMA12
#undef MLPCORE_ZERO14
#undef MLPCORE_CLOBBER14
#endif

#if defined(MLPCORE_PEAK_NEON)
#define MLPCORE_FMLA(d) "fmla v" #d ".4s, v12.4s, v13.4s\n\t"
void fma_loop_neon(long iters) {
  __asm__ volatile(
      "movi v0.4s, #0\n\tmovi v1.4s, #0\n\tmovi v2.4s, #0\n\tmovi v3.4s, #0\n\tmovi v4.4s, #0\n\t"
      "movi v5.4s, #0\n\tmovi v6.4s, #0\n\tmovi v7.4s, #0\n\tmovi v8.4s, #0\n\tmovi v9.4s, #0\n\t"
      "movi v10.4s, #0\n\tmovi v11.4s, #0\n\tmovi v12.4s, #0\n\tmovi v13.4s, #0\n\t"
      "1:\n\t" MLPCORE_FMLA(0) MLPCORE_FMLA(1) MLPCORE_FMLA(2) MLPCORE_FMLA(3) MLPCORE_FMLA(4)
      MLPCORE_FMLA(5) MLPCORE_FMLA(6) MLPCORE_FMLA(7) MLPCORE_FMLA(8) MLPCORE_FMLA(9) MLPCORE_FMLA(10)
      MLPCORE_FMLA(11) "subs %0, %0, #1\n\tb.ne 1b\n\t"
      : "+r"(iters)
      :
      : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "cc");
}
#undef MLPCORE_FMLA
#endif

// The fastest of repeated runs of loop(iters), in seconds.
template <class Loop>
double fastest_seconds(Loop loop, long iters) {
  using Clock = std::chrono::steady_clock;
  loop(iters);  // warm up (wakes the vector units)
  double best = 1e30;
  const auto start = Clock::now();
  for (int run = 0; run < 2000; ++run) {
    const auto t0 = Clock::now();
    loop(iters);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    if (run >= 5 && std::chrono::duration<double>(Clock::now() - start).count() > 0.3) break;
  }
  return best;
}

}  // namespace

std::string cpu_model_name() {
#if defined(MLPCORE_PEAK_X86)
  unsigned regs[12] = {};
  if (__get_cpuid_max(0x80000000u, nullptr) >= 0x80000004u) {
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002u + leaf, &regs[4 * leaf], &regs[4 * leaf + 1], &regs[4 * leaf + 2], &regs[4 * leaf + 3]);
    }
    char brand[49] = {};
    std::memcpy(brand, regs, 48);
    std::string name(brand);
    const auto first = name.find_first_not_of(' '), last = name.find_last_not_of(' ');
    if (first != std::string::npos) return name.substr(first, last - first + 1);
  }
#endif
#if defined(__APPLE__)
  char buf[256] = {};
  std::size_t len = sizeof(buf);
  if (sysctlbyname("machdep.cpu.brand_string", buf, &len, nullptr, 0) == 0 && buf[0]) return buf;
#endif
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    for (const char* key : {"model name", "Model", "cpu model"}) {
      if (line.rfind(key, 0) == 0 && line.find(':') != std::string::npos && line.find(':') + 2 <= line.size()) {
        const std::string value = line.substr(line.find(':') + 2);
        if (!value.empty()) return value;
      }
    }
  }
  return "unknown CPU";
}

double measure_fma_peak(Isa isa) {
  constexpr long kIters = 50000;
#if defined(MLPCORE_PEAK_X86)
  if (isa == Isa::avx512) return 12.0 * 16 * 2 * kIters / fastest_seconds(fma_loop_avx512, kIters);
  if (isa == Isa::avx2) return 12.0 * 8 * 2 * kIters / fastest_seconds(fma_loop_avx2, kIters);
#endif
#if defined(MLPCORE_PEAK_NEON)
  if (isa == Isa::neon) return 12.0 * 4 * 2 * kIters / fastest_seconds(fma_loop_neon, kIters);
#endif
  (void)isa;
  (void)kIters;
  return 0.0;
}

}  // namespace mlpcore
