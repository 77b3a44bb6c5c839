// The cycle cost of each instruction class, from the config and the operand shapes: how long
// it occupies its unit, which SRAM and NoC port cycles it books, and when its results land.
// The formulas are written out in docs/timing.md; tests hold this file to them.
#pragma once

#include <cstdint>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/arch/isa.h"
#include "tatami/arch/semantics.h"

namespace tatami::tlm {

/// What one instruction books, relative to its start cycle s.
struct Usage {
  Unit unit = Unit::Scalar;
  std::uint64_t occupancy = 0;     ///< the unit is busy during [s, s + occupancy)
  std::uint64_t completion = 0;    ///< results are in SRAM (and DMA semaphores signal) at s + completion
  std::uint64_t threadCycles = 1;  ///< the thread may issue its next instruction at s + threadCycles
  /// Read-port bookings from s, one per port used (already grouped by port: at most sram_read_ports).
  std::vector<std::uint64_t> readPortCycles;
  /// Write-port bookings from s + writeOffset (at most sram_write_ports).
  std::uint64_t writeOffset = 0;
  std::vector<std::uint64_t> writePortCycles;
  /// NoC port bookings (DMA) from s + nocOffset.
  std::uint64_t nocOffset = 0;
  std::uint64_t nocReadCycles = 0, nocWriteCycles = 0;
};

class CoreTiming {
 public:
  explicit CoreTiming(const ArchConfig& config);
  Usage usage(const Instruction& inst, const Operands& ops) const;
  /// 64 B lines (of the SRAM port width) that `bytes` occupy.
  std::uint64_t lines(std::uint64_t bytes) const { return (bytes + portBytes_ - 1) / portBytes_; }

 private:
  std::vector<std::uint64_t> groupByPort(const std::vector<std::uint64_t>& streams, std::int64_t ports) const;
  const ArchConfig& c_;
  std::uint64_t portBytes_;
};

}  // namespace tatami::tlm
