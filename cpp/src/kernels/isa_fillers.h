// The one export of each ISA's translation units: a function that fills its
// part of a KernelTable. Defined only for the ISAs this build compiles.
#pragma once

#include "mlpcore/kernel_table.h"

namespace mlpcore {

void fill_sgemm_generic(KernelTable& table);
void fill_elementwise_generic(KernelTable& table);
#if defined(MLPCORE_HAVE_AVX2)
void fill_sgemm_avx2(KernelTable& table);
void fill_elementwise_avx2(KernelTable& table);
#endif
#if defined(MLPCORE_HAVE_AVX512)
void fill_sgemm_avx512(KernelTable& table);
void fill_elementwise_avx512(KernelTable& table);
#endif
#if defined(MLPCORE_HAVE_NEON)
void fill_sgemm_neon(KernelTable& table);
void fill_elementwise_neon(KernelTable& table);
#endif

}  // namespace mlpcore
