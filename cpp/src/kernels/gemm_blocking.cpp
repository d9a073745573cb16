// Cache-block sizes from the caches (see gemm_blocking.h).
#include "mlpcore/gemm_blocking.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace mlpcore {
namespace {

constexpr std::size_t kFloat = sizeof(float);
constexpr std::size_t kMaxKc = 512;

// The largest multiple of `unit` <= v, kept within [lo, hi] (both multiples of unit).
std::size_t fit(std::size_t v, std::size_t unit, std::size_t lo, std::size_t hi) {
  return std::clamp(v / unit * unit, lo, hi);
}

std::size_t round_up(std::size_t v, std::size_t unit) { return (v + unit - 1) / unit * unit; }

}  // namespace

GemmBlocking derive_blocking(const GemmBlocking& table, const CacheSizes& c) {
  const std::size_t mr = static_cast<std::size_t>(table.mr), nr = static_cast<std::size_t>(table.nr);
  const std::size_t table_kc = static_cast<std::size_t>(table.kc);
  GemmBlocking out = table;
  const std::size_t kc = c.l1d ? fit(c.l1d * 3 / 4 / (mr * kFloat), 8, 16, kMaxKc) : table_kc;
  const std::size_t mc_floats = c.l2 ? c.l2 / 2 / kFloat : static_cast<std::size_t>(table.mc) * table_kc;
  const std::size_t nc_floats = c.l3 ? c.l3 / 2 / kFloat : static_cast<std::size_t>(table.nc) * table_kc;
  out.kc = static_cast<int>(kc);
  out.mc = static_cast<int>(fit(mc_floats / kc, mr, mr, 4096 / mr * mr));
  out.nc = static_cast<int>(fit(nc_floats / kc, nr, nr, 16384 / nr * nr));
  return out;
}

std::string apply_blocking_override(const std::string& text, GemmBlocking& blocking) {
  GemmBlocking out = blocking;
  bool seen[3] = {false, false, false};
  std::stringstream in(text);
  std::string item;
  int items = 0;
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) continue;
    ++items;
    const std::size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const int which = key == "kc" ? 0 : key == "mc" ? 1 : key == "nc" ? 2 : -1;
    if (eq == std::string::npos || which < 0) {
      return "'" + item + "' is not kc=<int>, mc=<int> or nc=<int>";
    }
    if (seen[which]) return key + " given twice";
    seen[which] = true;
    const std::string value = item.substr(eq + 1);
    const long long hi = which == 2 ? 1048576 : 65536;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno != 0 || v < 1 || v > hi) {
      return key + "='" + value + "' is not an integer in [1, " + std::to_string(hi) + "]";
    }
    const std::size_t u = static_cast<std::size_t>(v);
    if (which == 0) out.kc = static_cast<int>(u);
    if (which == 1) out.mc = static_cast<int>(round_up(u, static_cast<std::size_t>(out.mr)));
    if (which == 2) out.nc = static_cast<int>(round_up(u, static_cast<std::size_t>(out.nr)));
  }
  if (items == 0) return "expected kc=<int>, mc=<int> and/or nc=<int>, comma-separated";
  blocking = out;
  return "";
}

}  // namespace mlpcore
