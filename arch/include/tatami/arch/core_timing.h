// The cycle cost of each instruction class, from the config and the operand shapes: how long
// it occupies its unit, which SRAM and NoC port cycles it books, and when its results land.
// The formulas are written out in docs/timing.md; tests hold this file to them.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/arch/isa.h"
#include "tatami/arch/semantics.h"

namespace tatami {

/// Port bookings of one kind, one per port used (at most one per port; no allocation).
class PortCycles {
 public:
  static constexpr int kMax = 8;  ///< the most ports of a kind (core.sram_read_ports <= 8)
  void push_back(std::uint64_t cycles) { v_[std::size_t(n_++)] = cycles; }
  std::uint64_t operator[](std::size_t i) const { return v_[i]; }
  std::size_t size() const { return std::size_t(n_); }
  bool empty() const { return n_ == 0; }
  const std::uint64_t* begin() const { return v_.data(); }
  const std::uint64_t* end() const { return v_.data() + n_; }
  std::vector<std::uint64_t> toVector() const { return {begin(), end()}; }

 private:
  std::array<std::uint64_t, kMax> v_{};
  int n_ = 0;
};

/// What one instruction books, relative to its start cycle s.
struct Usage {
  Unit unit = Unit::Scalar;
  std::uint64_t occupancy = 0;     ///< the unit is busy during [s, s + occupancy)
  std::uint64_t completion = 0;    ///< results are in SRAM (and DMA semaphores signal) at s + completion
  std::uint64_t threadCycles = 1;  ///< the thread may issue its next instruction at s + threadCycles
  /// Read-port bookings from s, one per port used (already grouped by port: at most sram_read_ports).
  PortCycles readPortCycles;
  /// Write-port bookings from s + writeOffset (at most sram_write_ports).
  std::uint64_t writeOffset = 0;
  PortCycles writePortCycles;
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
  /// Stream i goes to port i mod ports; streams that share a port run back to back.
  PortCycles groupByPort(std::initializer_list<std::uint64_t> streams, std::int64_t ports) const;
  PortCycles groupByPort(const std::uint64_t* streams, std::size_t count, std::int64_t ports) const;
  const ArchConfig& c_;
  std::uint64_t portBytes_;
};

}  // namespace tatami
