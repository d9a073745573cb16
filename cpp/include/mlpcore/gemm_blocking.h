// The GEMM's cache-block sizes (kc, mc, nc) for a micro-kernel (mr x nr),
// derived from one core's share of the caches (cpu_caches.h); the per-ISA
// table's sizes are the defaults where a level is unknown. Pure functions.
#pragma once

#include <string>

#include "mlpcore/cpu_caches.h"
#include "mlpcore/kernel_table.h"

namespace mlpcore {

// BLIS's placement, each operand in its level with room left for the others
// that stream through it:
// - kc: the mr x kc sliver of A, the operand a micro-kernel broadcasts (BLIS
//   keeps its broadcast operand's sliver in L1), fills 3/4 of L1d; a multiple
//   of 8 in [16, 512]. Deep slices matter: each k slice reads and writes the
//   C tile once more, and a tile's fixed costs are shared by kc steps; the kc
//   x nr sliver of B, larger than L1 then, streams from L2 (the B panel),
//   which the micro-kernel's loads keep ahead of the FMAs. 512 is where the
//   gains stop (measured in docs/gemm.md).
// - mc: a packed mc x kc block of A, reused by every sliver of a panel,
//   fills half of L2; a multiple of mr in [mr, 4096].
// - nc: a packed kc x nc panel of B, reused by every block of rows, fills
//   half of the core's share of L3; a multiple of nr in [nr, 16384].
// A level that is unknown (0) keeps the table's footprint for its operand
// (mc * kc or kc * nc floats as in the table), with kc as derived.
GemmBlocking derive_blocking(const GemmBlocking& table, const CacheSizes& per_core);

// Applies an override such as "kc=128,mc=96,nc=2048" (any of the three, in any
// order) to `blocking`: mc is rounded up to a multiple of mr and nc to one of
// nr. Returns an empty string, or (leaving `blocking` unchanged) what is wrong:
// an unknown key, a value that is not an integer in [1, 65536] (kc, mc) or
// [1, 1048576] (nc), a key given twice.
std::string apply_blocking_override(const std::string& text, GemmBlocking& blocking);

}  // namespace mlpcore
