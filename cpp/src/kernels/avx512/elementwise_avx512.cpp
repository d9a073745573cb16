// Elementwise kernels for avx512: the shared loops of elementwise_impl.h, compiled
// with this file's target flags (set in CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../isa_fillers.h"

namespace {
#include "../elementwise_impl.h"
}  // namespace

namespace mlpcore {

void fill_elementwise_avx512(KernelTable& table) { fill_elementwise(table); }

}  // namespace mlpcore
