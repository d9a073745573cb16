// Elementwise kernels for neon: the shared loops of elementwise_impl.h, compiled
// with this file's target flags (set in CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../isa_fillers.h"

// The named namespace puts the ISA in every kernel's name (profiles, nm); the
// anonymous one keeps each copy private to this file (elementwise_impl.h).
namespace mlpcore::elementwise_neon {
namespace {
#include "../elementwise_impl.h"
}  // namespace
}  // namespace mlpcore::elementwise_neon

namespace mlpcore {

void fill_elementwise_neon(KernelTable& table) { elementwise_neon::fill_elementwise(table); }

}  // namespace mlpcore
