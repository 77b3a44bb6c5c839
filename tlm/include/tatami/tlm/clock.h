// Model time as SystemC carries it. All model time is counted in core cycles; the kernel's
// sc_time is only the carrier, with one core cycle mapped to one kernel nanosecond, so any clock
// frequency works without rounding. Seconds are derived from cycles at the configured clock.
#pragma once

#include <cstdint>
#include <systemc>

#include "tatami/arch/config.h"

namespace tatami::tlm {

/// Kernel time of `cycles` core cycles.
inline sc_core::sc_time cyclesToTime(std::uint64_t cycles) {
  return sc_core::sc_time(static_cast<double>(cycles), sc_core::SC_NS);
}

/// Whole core cycles in a kernel time.
inline std::uint64_t timeToCycles(const sc_core::sc_time& t) {
  // The kernel's resolution is fixed once time has been used, so one cycle's value can be kept
  // (per kernel context: a new context may have another resolution).
  thread_local sc_core::sc_simcontext* context = nullptr;
  thread_local sc_core::sc_time::value_type oneCycle = 1;
  if (context != sc_core::sc_get_curr_simcontext()) {
    context = sc_core::sc_get_curr_simcontext();
    oneCycle = sc_core::sc_time(1, sc_core::SC_NS).value();
  }
  return t.value() / oneCycle;
}

/// Wall-clock seconds on the modelled machine for `cycles` at core.clock_ghz.
inline double cyclesToSeconds(const ArchConfig& config, std::uint64_t cycles) {
  return static_cast<double>(cycles) / (config.core.clock_ghz * 1e9);
}

}  // namespace tatami::tlm
