#include "mlpcore/float_env.h"

#include <atomic>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <xmmintrin.h>
#define MLPCORE_FLOAT_CONTROL_X86 1
#elif defined(__aarch64__) && !defined(_MSC_VER)
#define MLPCORE_FLOAT_CONTROL_ARM64 1
#endif

namespace mlpcore {
namespace {

std::atomic<bool> g_flush_denormal{true};

#if defined(MLPCORE_FLOAT_CONTROL_X86)
constexpr FloatControl kFlushBits = 0x8040;  // MXCSR FTZ (bit 15) | DAZ (bit 6)
#elif defined(MLPCORE_FLOAT_CONTROL_ARM64)
constexpr FloatControl kFlushBits = FloatControl{1} << 24;  // FPCR.FZ: inputs and results
#else
constexpr FloatControl kFlushBits = 0;
#endif

}  // namespace

bool flush_denormal() { return g_flush_denormal.load(std::memory_order_relaxed); }

void set_flush_denormal(bool enabled) { g_flush_denormal.store(enabled, std::memory_order_relaxed); }

FloatControl float_control() {
#if defined(MLPCORE_FLOAT_CONTROL_X86)
  return _mm_getcsr();
#elif defined(MLPCORE_FLOAT_CONTROL_ARM64)
  std::uint64_t v;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
  return v;
#else
  return 0;
#endif
}

void set_float_control(FloatControl value) {
#if defined(MLPCORE_FLOAT_CONTROL_X86)
  _mm_setcsr(static_cast<unsigned>(value));
#elif defined(MLPCORE_FLOAT_CONTROL_ARM64)
  __asm__ __volatile__("msr fpcr, %0" : : "r"(value));
#else
  (void)value;
#endif
}

FloatControl native_float_control() {
  const FloatControl now = float_control();
  return flush_denormal() ? now | kFlushBits : now;
}

FloatControlScope::FloatControlScope(FloatControl value)
    : saved_(float_control()), changed_(value != saved_) {
  if (changed_) set_float_control(value);
}

FloatControlScope::~FloatControlScope() {
  if (changed_) set_float_control(saved_);
}

}  // namespace mlpcore
