// Subnormal floats (below 1.2e-38 in magnitude) cost a microcode assist on
// every operation that touches them on many CPUs, and long training makes
// them: the momentum of a dead ReLU unit shrinks geometrically. So native
// compute flushes them to zero (x86: MXCSR FTZ and DAZ; aarch64: FPCR.FZ),
// on the calling thread and on every thread that works for it, and gives
// each thread back its own floating-point control state afterwards: code
// outside mlpcore never sees a changed control register.
#pragma once

#include <cstdint>

namespace mlpcore {

// Process-wide: whether native calls flush subnormals (default true).
bool flush_denormal();
void set_flush_denormal(bool enabled);

// The calling thread's floating-point control register (x86: MXCSR, aarch64:
// FPCR; 0 elsewhere): rounding, exception masks and the flush bits.
using FloatControl = std::uint64_t;
FloatControl float_control();
void set_float_control(FloatControl value);

// The control state a native call runs with: the calling thread's own, with
// subnormals flushed when flush_denormal() is on.
FloatControl native_float_control();

// Sets the calling thread's control register for the scope's life and restores
// the previous value on exit (no register write when they are equal). A native
// entry point opens one with native_float_control(); each thread of an OpenMP
// team opens one with the float_control() of the thread that started the team,
// so every thread of a call computes alike (see run_team in threads.h).
class FloatControlScope {
 public:
  explicit FloatControlScope(FloatControl value);
  ~FloatControlScope();
  FloatControlScope(const FloatControlScope&) = delete;
  FloatControlScope& operator=(const FloatControlScope&) = delete;
  FloatControl saved() const { return saved_; }

 private:
  FloatControl saved_;
  bool changed_;
};

}  // namespace mlpcore
