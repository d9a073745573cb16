// Chooses the kernel table once: the best ISA that is compiled in, that the CPU
// reports (CPUID) and whose registers the OS saves (XGETBV), unless MLPCORE_ISA
// asks for a lower one. In the test build with MLPCORE_EMULATE_AVX512 the
// AVX-512 table runs on any x86-64 (emulated in software) and counts as supported.
// Each table's cache blocks are derived from the caches the CPU reports
// (gemm_blocking.h), or set by MLPCORE_BLOCKING.
#include "mlpcore/dispatch.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "isa_fillers.h"
#include "mlpcore/cpu_caches.h"
#include "mlpcore/gemm_blocking.h"

#if defined(__x86_64__) || defined(_M_X64)
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace mlpcore {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
struct CpuidRegs {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegs cpuid(unsigned leaf, unsigned subleaf) {
  CpuidRegs r;
#if defined(_MSC_VER)
  int regs[4];
  __cpuidex(regs, static_cast<int>(leaf), static_cast<int>(subleaf));
  r = {static_cast<unsigned>(regs[0]), static_cast<unsigned>(regs[1]),
       static_cast<unsigned>(regs[2]), static_cast<unsigned>(regs[3])};
#else
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}

// XCR0: which register states the OS saves on a context switch.
unsigned long long xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
#endif
}

bool cpu_runs(Isa isa) {
  if (isa == Isa::generic) return true;
  if (isa == Isa::neon) return false;
  const CpuidRegs max = cpuid(0, 0);
  if (max.eax < 7) return false;
  const CpuidRegs l1 = cpuid(1, 0);
  const bool osxsave = (l1.ecx >> 27) & 1u;
  if (!osxsave) return false;
  const unsigned long long xcr0 = xgetbv0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;       // SSE and AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;     // plus opmask and both ZMM halves
  const CpuidRegs l7 = cpuid(7, 0);
  const bool avx = (l1.ecx >> 28) & 1u, fma = (l1.ecx >> 12) & 1u, avx2 = (l7.ebx >> 5) & 1u;
  if (isa == Isa::avx2) return os_ymm && avx && fma && avx2;
  const bool f = (l7.ebx >> 16) & 1u, dq = (l7.ebx >> 17) & 1u, bw = (l7.ebx >> 30) & 1u,
             vl = (l7.ebx >> 31) & 1u;
  return isa == Isa::avx512 && os_zmm && avx && fma && avx2 && f && dq && bw && vl;
}
#elif defined(__aarch64__) || defined(_M_ARM64)
bool cpu_runs(Isa isa) { return isa == Isa::generic || isa == Isa::neon; }  // NEON is baseline
#else
bool cpu_runs(Isa isa) { return isa == Isa::generic; }
#endif

bool compiled(Isa isa) {
  switch (isa) {
    case Isa::generic: return true;
#if defined(MLPCORE_HAVE_AVX2)
    case Isa::avx2: return true;
#endif
#if defined(MLPCORE_HAVE_AVX512)
    case Isa::avx512: return true;
#endif
#if defined(MLPCORE_HAVE_NEON)
    case Isa::neon: return true;
#endif
    default: return false;
  }
}

KernelTable make_table(Isa isa) {
  KernelTable t{};
  t.isa = isa;
  switch (isa) {
#if defined(MLPCORE_HAVE_AVX512)
    case Isa::avx512: fill_sgemm_avx512(t); fill_elementwise_avx512(t); return t;
#endif
#if defined(MLPCORE_HAVE_AVX2)
    case Isa::avx2: fill_sgemm_avx2(t); fill_elementwise_avx2(t); return t;
#endif
#if defined(MLPCORE_HAVE_NEON)
    case Isa::neon: fill_sgemm_neon(t); fill_elementwise_neon(t); return t;
#endif
    default: fill_sgemm_generic(t); fill_elementwise_generic(t); return t;
  }
}

constexpr Isa kAllBestFirst[] = {Isa::avx512, Isa::avx2, Isa::neon, Isa::generic};

struct Registry {
  KernelTable tables[4];
  std::atomic<const KernelTable*> active{nullptr};
  const char* blocking_source = "table";
};

bool parse_isa(const std::string& name, Isa& out) {
  for (Isa isa : kAllBestFirst) {
    if (name == isa_name(isa)) {
      out = isa;
      return true;
    }
  }
  return false;
}

Registry& registry() {
  static Registry* reg = [] {
    auto* r = new Registry;  // never freed: kernels may run during static destruction
    for (Isa isa : kAllBestFirst) r->tables[static_cast<int>(isa)] = make_table(isa);
    // Cache blocks: derived from the caches where any level could be read (each
    // unknown level keeps the table's footprint), then MLPCORE_BLOCKING on top.
    const CachesInUse& caches = cpu_caches();
    const CacheSizes& sizes = caches.per_core;
    if (sizes.l1d || sizes.l2 || sizes.l3) {
      for (KernelTable& t : r->tables) t.sgemm_blocking = derive_blocking(t.sgemm_blocking, sizes);
      r->blocking_source = "caches";
    }
    if (const char* env = std::getenv("MLPCORE_BLOCKING"); env && *env) {
      std::string error;
      for (KernelTable& t : r->tables) {
        error = apply_blocking_override(env, t.sgemm_blocking);
        if (!error.empty()) break;  // bad text fails on the first table, changing none
      }
      if (error.empty()) {
        r->blocking_source = "MLPCORE_BLOCKING";
      } else {
        std::fprintf(stderr, "mlpcore: MLPCORE_BLOCKING=%s ignored: %s\n", env, error.c_str());
      }
    }
    const std::vector<Isa> ok = supported_isas();
    Isa chosen = ok.front();
    if (const char* env = std::getenv("MLPCORE_ISA"); env && *env) {
      Isa wanted;
      bool runnable = false;
      if (parse_isa(env, wanted)) {
        for (Isa isa : ok) runnable = runnable || isa == wanted;
      }
      if (runnable) {
        chosen = wanted;
      } else {
        std::fprintf(stderr,
                     "mlpcore: MLPCORE_ISA=%s is not one this machine can run; using %s\n",
                     env, isa_name(chosen));
      }
    }
    r->active.store(&r->tables[static_cast<int>(chosen)]);
    return r;
  }();
  return *reg;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::neon: return "neon";
    case Isa::generic: return "generic";
  }
  return "generic";
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : kAllBestFirst) {
    if (compiled(isa) && (isa_emulated(isa) || cpu_runs(isa))) out.push_back(isa);
  }
  return out;
}

bool isa_emulated(Isa isa) {
#if defined(MLPCORE_AVX512_EMULATED)
  return isa == Isa::avx512;
#else
  (void)isa;
  return false;
#endif
}

GemmBlocking table_blocking(Isa isa) { return make_table(isa).sgemm_blocking; }

const char* blocking_source() { return registry().blocking_source; }

const KernelTable& kernels() { return *registry().active.load(std::memory_order_acquire); }

void select_isa(const std::string& name) {
  Isa wanted;
  if (!parse_isa(name, wanted)) {
    throw std::invalid_argument("isa: expected one of 'avx512', 'avx2', 'neon', 'generic', got '" +
                                name + "'");
  }
  for (Isa isa : supported_isas()) {
    if (isa == wanted) {
      Registry& r = registry();
      r.active.store(&r.tables[static_cast<int>(isa)], std::memory_order_release);
      return;
    }
  }
  throw std::invalid_argument("isa: '" + name + "' is not compiled in or not supported by this CPU");
}

}  // namespace mlpcore
