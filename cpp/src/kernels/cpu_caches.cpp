// Run-time detection of the data caches (see cpu_caches.h): CPUID on x86-64,
// the operating system's view elsewhere or where CPUID says nothing.
#include "mlpcore/cpu_caches.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64)
#define MLPCORE_CACHES_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

#if defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#endif

namespace mlpcore {
namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;

// Logical CPUs of this machine (or this VM), to bound a sharing count that
// CPUID reports as the maximum the package could address.
int online_cpus() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

// Cores among `logical` hardware threads that share a cache, `per_core`
// threads a core (both as reported; 0 = unknown).
int cores_of(int logical, int per_core) {
  if (logical <= 0) return 0;
  logical = std::min(logical, online_cpus());
  return std::max(1, logical / std::max(1, per_core));
}

// One data or unified cache as CPUID or the OS describes it: its level, its
// size and how many hardware threads share it.
struct FoundCache {
  int level;
  std::size_t bytes;
  int logical;
};

// The report of the caches found: the first of each level, its sharing counted
// in cores (a core has l1_logical hardware threads); `source` once any is known.
CacheReport report_of(const std::vector<FoundCache>& found, int l1_logical, const char* source) {
  CacheReport out;
  for (const FoundCache& f : found) {
    CacheLevel* dst = f.level == 1 ? &out.l1d : f.level == 2 ? &out.l2 : f.level == 3 ? &out.l3 : nullptr;
    if (dst && !dst->bytes) *dst = {f.bytes, cores_of(f.logical, l1_logical)};
  }
  out.source = out.l1d.bytes || out.l2.bytes || out.l3.bytes ? source : "none";
  return out;
}

bool complete(const CacheReport& r) { return r.l1d.bytes && r.l2.bytes && r.l3.bytes; }

// Fills the levels `into` lacks from `from`; `into` names its source when it gains one.
void fill_missing(CacheReport& into, const CacheReport& from) {
  bool gained = false;
  for (auto [dst, src] : {std::pair{&into.l1d, &from.l1d}, {&into.l2, &from.l2}, {&into.l3, &from.l3}}) {
    if (!dst->bytes && src->bytes) {
      *dst = *src;
      gained = true;
    }
  }
  if (gained) into.source = into.source == "none" ? from.source : into.source + "+" + from.source;
}

#if defined(MLPCORE_CACHES_X86)
struct Regs {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Regs cpuid(unsigned leaf, unsigned subleaf = 0) {
  Regs r;
#if defined(_MSC_VER)
  int v[4];
  __cpuidex(v, static_cast<int>(leaf), static_cast<int>(subleaf));
  r = {static_cast<unsigned>(v[0]), static_cast<unsigned>(v[1]), static_cast<unsigned>(v[2]),
       static_cast<unsigned>(v[3])};
#else
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}

// Deterministic cache parameters (Intel leaf 4; AMD's 0x8000001D has the same
// layout): type in EAX[4:0] (1 data, 2 instruction, 3 unified, 0 no more),
// level in EAX[7:5], logical processors sharing it minus 1 in EAX[25:14],
// ways, partitions and line size minus 1 in EBX, sets minus 1 in ECX.
CacheReport read_deterministic_leaf(unsigned leaf) {
  int l1_logical = 0;
  std::vector<FoundCache> found;
  for (unsigned sub = 0; sub < 16; ++sub) {
    const Regs r = cpuid(leaf, sub);
    const unsigned type = r.eax & 0x1F;
    if (type == 0) break;
    if (type == 2) continue;  // instruction cache
    const int level = static_cast<int>((r.eax >> 5) & 0x7);
    const std::size_t ways = ((r.ebx >> 22) & 0x3FF) + 1, parts = ((r.ebx >> 12) & 0x3FF) + 1,
                      line = (r.ebx & 0xFFF) + 1, sets = static_cast<std::size_t>(r.ecx) + 1;
    const int logical = static_cast<int>((r.eax >> 14) & 0xFFF) + 1;
    found.push_back({level, ways * parts * line * sets, logical});
    if (level == 1) l1_logical = logical;  // a core's hardware threads
  }
  return report_of(found, l1_logical, "cpuid");
}

CacheReport read_cpuid() {
  const Regs v = cpuid(0);
  char vendor[13] = {};
  for (int i = 0; i < 4; ++i) {
    vendor[i] = static_cast<char>(v.ebx >> (8 * i));
    vendor[4 + i] = static_cast<char>(v.edx >> (8 * i));
    vendor[8 + i] = static_cast<char>(v.ecx >> (8 * i));
  }
  const std::string name(vendor);
  const unsigned max_ext = cpuid(0x80000000).eax;
  if (name == "AuthenticAMD" || name == "HygonGenuine") {
    const bool topoext = max_ext >= 0x8000001D && ((cpuid(0x80000001).ecx >> 22) & 1u);
    if (topoext) return read_deterministic_leaf(0x8000001D);
    // Older AMD: sizes in 0x80000005 (L1d, KiB in ECX[31:24]) and 0x80000006
    // (L2, KiB in ECX[31:16]; L3, 512 KiB units in EDX[31:18]), sharing unreported.
    CacheReport out;
    if (max_ext >= 0x80000005) out.l1d.bytes = static_cast<std::size_t>(cpuid(0x80000005).ecx >> 24) * KiB;
    if (max_ext >= 0x80000006) {
      const Regs r = cpuid(0x80000006);
      out.l2.bytes = static_cast<std::size_t>(r.ecx >> 16) * KiB;
      out.l3.bytes = static_cast<std::size_t>(r.edx >> 18) * 512 * KiB;
      out.l2.cores = 1;
    }
    out.l1d.cores = 1;
    out.source = out.l1d.bytes || out.l2.bytes || out.l3.bytes ? "cpuid" : "none";
    return out;
  }
  if (v.eax >= 4) return read_deterministic_leaf(4);
  return {};
}
#endif

#if defined(__linux__)
// "32K", "1024K", "32768K", "1M" -> bytes.
std::size_t parse_size(const std::string& s) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (end == s.c_str()) return 0;
  switch (*end) {
    case 'K': return static_cast<std::size_t>(v) * KiB;
    case 'M': return static_cast<std::size_t>(v) * MiB;
    case 'G': return static_cast<std::size_t>(v) * 1024 * MiB;
    default: return static_cast<std::size_t>(v);
  }
}

// "0-1,4-5" -> 4.
int count_cpu_list(const std::string& s) {
  int count = 0;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    int lo = 0, hi = 0;
    const int got = std::sscanf(item.c_str(), "%d-%d", &lo, &hi);
    if (got == 2 && hi >= lo) count += hi - lo + 1;
    if (got == 1) ++count;
  }
  return count;
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

CacheReport read_sysfs() {
  std::vector<FoundCache> found;
  int l1_logical = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string level = read_line(dir + "level"), type = read_line(dir + "type");
    if (level.empty()) break;
    if (type != "Data" && type != "Unified") continue;
    const int lv = std::atoi(level.c_str());
    const int logical = count_cpu_list(read_line(dir + "shared_cpu_list"));
    found.push_back({lv, parse_size(read_line(dir + "size")), logical});
    if (lv == 1) l1_logical = logical;
  }
  return report_of(found, l1_logical, "sysfs");
}
#endif

#if defined(__APPLE__)
long long sysctl_int(const char* name) {
  long long v = 0;
  std::size_t len = sizeof(v);
  if (sysctlbyname(name, &v, &len, nullptr, 0) != 0) return 0;
  if (len == sizeof(int)) {
    int i = 0;
    std::memcpy(&i, &v, sizeof(int));
    return i;
  }
  return v;
}

// The performance cores' caches on Apple silicon (perflevel0), else the
// machine-wide keys (Intel Macs).
CacheReport read_sysctl() {
  CacheReport out;
  const long long l1 = sysctl_int("hw.perflevel0.l1dcachesize");
  const long long l2 = sysctl_int("hw.perflevel0.l2cachesize");
  const long long per_l2 = sysctl_int("hw.perflevel0.cpusperl2");
  out.l1d = {static_cast<std::size_t>(l1 > 0 ? l1 : sysctl_int("hw.l1dcachesize")), 1};
  out.l2 = {static_cast<std::size_t>(l2 > 0 ? l2 : sysctl_int("hw.l2cachesize")),
            cores_of(static_cast<int>(per_l2 > 0 ? per_l2 : 1), 1)};
  const long long l3 = sysctl_int("hw.l3cachesize");
  if (l3 > 0) {
    const long long cores = sysctl_int("hw.physicalcpu");
    out.l3 = {static_cast<std::size_t>(l3), static_cast<int>(std::max(1LL, cores))};
  }
  out.source = out.l1d.bytes || out.l2.bytes || out.l3.bytes ? "sysctl" : "none";
  return out;
}
#endif

#if defined(_WIN32)
CacheReport read_windows() {
  DWORD len = 0;
  GetLogicalProcessorInformationEx(RelationCache, nullptr, &len);
  if (len == 0) return report_of({}, 0, "windows");
  std::vector<char> buf(len);
  auto* info = reinterpret_cast<SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX*>(buf.data());
  if (!GetLogicalProcessorInformationEx(RelationCache, info, &len)) return report_of({}, 0, "windows");
  int l1_logical = 0;
  std::vector<FoundCache> found;
  for (DWORD off = 0; off < len;) {
    auto* r = reinterpret_cast<SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX*>(buf.data() + off);
    if (r->Relationship == RelationCache &&
        (r->Cache.Type == CacheData || r->Cache.Type == CacheUnified)) {
      int logical = 0;
      for (KAFFINITY m = r->Cache.GroupMask.Mask; m; m &= m - 1) ++logical;
      found.push_back({r->Cache.Level, r->Cache.CacheSize, logical});
      if (r->Cache.Level == 1 && !l1_logical) l1_logical = logical;
    }
    off += r->Size;
  }
  return report_of(found, l1_logical, "windows");
}
#endif

std::string mib(std::size_t bytes) {
  char buf[32];
  if (bytes >= MiB) {
    std::snprintf(buf, sizeof buf, "%.4g MiB", static_cast<double>(bytes) / MiB);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g KiB", static_cast<double>(bytes) / KiB);
  }
  return buf;
}

}  // namespace

CachesInUse caches_in_use(const CacheReport& report) {
  CachesInUse out;
  out.source = report.source.empty() ? "none" : report.source;
  struct Rule {
    const char* name;
    const CacheLevel& level;
    std::size_t lo, hi;
    std::size_t* dst;
  };
  const Rule rules[] = {{"l1d", report.l1d, 4 * KiB, 256 * KiB, &out.per_core.l1d},
                        {"l2", report.l2, 64 * KiB, 32 * MiB, &out.per_core.l2},
                        {"l3", report.l3, 256 * KiB, 32 * MiB, &out.per_core.l3}};
  for (const Rule& r : rules) {
    if (!r.level.bytes) continue;
    const int cores = std::max(1, r.level.cores);
    const std::size_t share = r.level.bytes / static_cast<std::size_t>(cores);
    if (share < r.lo || share > r.hi) {
      std::string why = std::string(r.name) + ": " + mib(share) + " a core";
      if (cores > 1) why += " (" + mib(r.level.bytes) + " shared by " + std::to_string(cores) + " cores)";
      why += ", outside [" + mib(r.lo) + ", " + mib(r.hi) + "]";
      out.distrusted.push_back(why);
      continue;
    }
    *r.dst = share;
  }
  return out;
}

CacheReport read_cpu_caches() {
  CacheReport out;
  out.source = "none";
#if defined(MLPCORE_CACHES_X86)
  fill_missing(out, read_cpuid());
#endif
#if defined(__linux__)
  if (!complete(out)) fill_missing(out, read_sysfs());
#endif
#if defined(__APPLE__)
  if (!complete(out)) fill_missing(out, read_sysctl());
#endif
#if defined(_WIN32)
  if (!complete(out)) fill_missing(out, read_windows());
#endif
  return out;
}

const CachesInUse& cpu_caches() {
  static const CachesInUse caches = caches_in_use(read_cpu_caches());
  return caches;
}

}  // namespace mlpcore
