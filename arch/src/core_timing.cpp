// Per-instruction timing formulas (docs/timing.md, "Core").
#include "tatami/arch/core_timing.h"

#include <algorithm>

namespace tatami {

CoreTiming::CoreTiming(const ArchConfig& config) : c_(config), portBytes_(std::uint64_t(config.core.sram_port_bytes)) {}

PortCycles CoreTiming::groupByPort(const std::uint64_t* streams, std::size_t count, std::int64_t ports) const {
  const std::size_t used = std::min<std::size_t>(count, std::size_t(ports));
  std::array<std::uint64_t, PortCycles::kMax> perPort{};
  for (std::size_t i = 0; i < count; ++i) perPort[i % used] += streams[i];
  PortCycles out;
  for (std::size_t p = 0; p < used; ++p) out.push_back(perPort[p]);
  return out;
}

PortCycles CoreTiming::groupByPort(std::initializer_list<std::uint64_t> streams, std::int64_t ports) const {
  return groupByPort(streams.begin(), streams.size(), ports);
}

Usage CoreTiming::usage(const Instruction& inst, const Operands& o) const {
  Usage u;
  u.unit = opInfo(inst.op).unit;
  const auto ceilDiv = [](std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; };
  const std::uint64_t size = std::uint64_t(dtypeSize(inst.type));
  // The vector unit processes fp32_fma_per_cycle x 4 bytes of operands per cycle, whatever the type.
  const std::uint64_t vectorBytesPerCycle = std::uint64_t(c_.core.fp32_fma_per_cycle) * 4;

  switch (u.unit) {
    case Unit::Scalar:
    case Unit::Sync:
      u.occupancy = u.completion = u.threadCycles = std::uint64_t(c_.core.scalar_cycles);
      return u;

    case Unit::Vector: {
      std::array<std::uint64_t, 4> reads{};
      std::size_t nReads = 0;
      std::uint64_t writeBytes = 0, computeBytes = 0;
      for (const Access& a : accessesOf(inst, o)) {
        if (a.write) writeBytes += a.bytes;
        else reads[nReads++] = lines(a.bytes);
        if (!a.write) computeBytes = std::max(computeBytes, a.bytes);
      }
      computeBytes = std::max(computeBytes, writeBytes);
      std::uint64_t compute = ceilDiv(computeBytes, vectorBytesPerCycle);
      if (inst.op == Op::Vexp || inst.op == Op::Vlog || inst.op == Op::Vrcp || inst.op == Op::Vrsqrt)
        compute = ceilDiv(computeBytes, kVectorBytes) * std::uint64_t(c_.core.vector_special_cycles);
      if (nReads) u.readPortCycles = groupByPort(reads.data(), nReads, c_.core.sram_read_ports);
      u.writePortCycles = groupByPort({lines(writeBytes)}, c_.core.sram_write_ports);
      u.writeOffset = std::uint64_t(c_.core.vector_latency_cycles);
      std::uint64_t occ = std::max<std::uint64_t>(compute, 1);
      for (auto r : u.readPortCycles) occ = std::max(occ, r);
      for (auto w : u.writePortCycles) occ = std::max(occ, w);
      u.occupancy = occ;
      u.completion = u.writeOffset + occ;
      return u;
    }

    case Unit::Matrix: {
      // Output-stationary: the 16 x 16 C tile stays in the units' accumulators; A and B panel
      // lines stream alternately through one read port; C is read through another port at the
      // start (mma) and written back through a write port after the pipeline drains.
      const std::uint64_t k = o.n;
      const std::uint64_t macsPerCycle = std::uint64_t(c_.core.matrix_units * c_.core.matrix_dim * c_.core.matrix_dim);
      const std::uint64_t compute = ceilDiv(std::uint64_t(kMmaTile * kMmaTile) * k, macsPerCycle);
      const std::uint64_t stream = lines(2 * k * kMmaTile * size);
      const std::uint64_t cLines = lines(kMmaTile * kMmaTile * 4);
      u.readPortCycles = inst.op == Op::Mma ? groupByPort({stream, cLines}, c_.core.sram_read_ports)
                                            : groupByPort({stream}, c_.core.sram_read_ports);
      u.occupancy = std::max(compute, u.readPortCycles[0]);
      u.writeOffset = u.occupancy + std::uint64_t(c_.core.matrix_latency_cycles);
      u.writePortCycles.push_back(cLines);
      u.completion = u.writeOffset + cLines;
      return u;
    }

    case Unit::Dma: {
      const std::uint64_t rd = std::uint64_t(c_.core.noc_read_bytes_per_cycle);
      const std::uint64_t wr = std::uint64_t(c_.core.noc_write_bytes_per_cycle);
      std::uint64_t readCycles = 0, writeCycles = 0;
      switch (inst.op) {
        case Op::Dma:
          readCycles = ceilDiv(o.n, rd);
          writeCycles = ceilDiv(o.n, wr);
          break;
        case Op::Dma2d:
          // Each row is its own burst: at least one cycle, even when short.
          readCycles = o.rows * std::max<std::uint64_t>(1, ceilDiv(o.cols, rd));
          writeCycles = o.rows * std::max<std::uint64_t>(1, ceilDiv(o.cols, wr));
          break;
        case Op::Dma3d:
          readCycles = o.planes * o.rows * std::max<std::uint64_t>(1, ceilDiv(o.cols, rd));
          writeCycles = o.planes * o.rows * std::max<std::uint64_t>(1, ceilDiv(o.cols, wr));
          break;
        case Op::Put:
        case Op::Get:
          readCycles = ceilDiv(o.n, rd);
          writeCycles = ceilDiv(o.n, wr);
          break;
        case Op::Sincr:
          // A signal is one packet; it waits behind every earlier transfer of the engine, so it
          // never overtakes their data.
          u.occupancy = u.completion = 1;
          return u;
        case Op::Gather:
        case Op::Scatter:
          // The index list streams in; then one element per burst.
          readCycles = ceilDiv(o.n * 4, rd) + o.n * std::max<std::uint64_t>(1, ceilDiv(o.elem, rd));
          writeCycles = o.n * std::max<std::uint64_t>(1, ceilDiv(o.elem, wr));
          break;
        default: break;
      }
      u.nocOffset = std::uint64_t(c_.core.dma_setup_cycles);
      u.nocReadCycles = readCycles;
      u.nocWriteCycles = writeCycles;
      u.occupancy = u.nocOffset + std::max<std::uint64_t>({readCycles, writeCycles, 1});
      u.completion = u.occupancy;
      return u;
    }
  }
  return u;
}

}  // namespace tatami
