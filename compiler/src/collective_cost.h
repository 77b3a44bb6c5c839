// Internal: the cost model's estimates for transfers over the mesh, from the same parameters the
// timing model charges (docs/timing.md), so that no calibrated constant stands in for them. Used
// by the collectives' estimates and by the choice between a one-ring and a two-level all-reduce.
#pragma once

#include <cstdint>

#include "tatami/arch/config.h"

namespace tatami::compiler::lowering {

/// One packet's trip over `hops` router hops: the hop latency at each, plus the injection and the
/// ejection port (two more router stages).
inline double packetCycles(const ArchConfig& c, double hops) { return (hops + 2) * double(c.die.hop_latency_cycles); }

/// One step of a ring collective that moves `bytes` to a neighbour `hops` away: the put's data
/// (the DMA setup, its packet trip and its serialization at the link's bytes per cycle), the
/// receiver's freed signal back (one packet, no setup), and the instructions that issue them (li
/// of the address at scalar_cycles; put, swait and sincr one cycle each).
inline double ringStepCycles(const ArchConfig& c, std::uint64_t bytes, double hops) {
  const double data = double(c.core.dma_setup_cycles) + packetCycles(c, hops) + double(bytes) / double(c.die.link_bytes_per_cycle);
  const double signal = packetCycles(c, hops);
  return data + signal + double(c.core.scalar_cycles) + 3;
}

/// A reduction of `bytes` into the accumulator: the vector unit's pass over its lines, plus the
/// pipeline latency.
inline double addCycles(const ArchConfig& c, std::uint64_t bytes) {
  const double lines = double((bytes + std::uint64_t(c.core.sram_port_bytes) - 1) / std::uint64_t(c.core.sram_port_bytes));
  return lines + double(c.core.vector_latency_cycles);
}

/// A ring all-reduce over p cores of chunks of `chunkBytes`: P-1 reduce-scatter steps (each a
/// step and an add) and P-1 all-gather steps, neighbours `hops` apart.
inline double ringAllreduceCycles(const ArchConfig& c, std::uint64_t p, std::uint64_t chunkBytes, double hops) {
  if (p < 2) return 0;
  return double(2 * (p - 1)) * ringStepCycles(c, chunkBytes, hops) + double(p - 1) * addCycles(c, chunkBytes);
}

/// The two-level all-reduce over groups of C consecutive cores (G = p / C groups): inside the
/// groups on chunks of b1 bytes (neighbours one hop apart), across them on chunks of b2 bytes
/// (the same position of neighbouring groups: C hops apart along the snake).
inline double groupedAllreduceCycles(const ArchConfig& c, std::uint64_t p, std::uint64_t C, std::uint64_t b1, std::uint64_t b2) {
  const std::uint64_t G = p / C;
  return ringAllreduceCycles(c, C, b1, 1) + ringAllreduceCycles(c, G, b2, double(C));
}

/// A transfer between SRAM and HBM of `bytes`: the DMA setup, the HBM latency, the request's and
/// the data's trips between the core and the die edge (on average half the die's rows and half
/// its columns away), and the data at the slower of the NoC port and the HBM rate.
inline double hbmTransferCycles(const ArchConfig& c, std::uint64_t bytes) {
  const double hops = double(c.die.rows + c.die.cols) / 2;
  const double bw = std::min<double>(double(c.core.noc_read_bytes_per_cycle), hbmBytesPerCycle(c));
  return double(c.core.dma_setup_cycles) + double(hbmLatencyCycles(c)) + 2 * packetCycles(c, hops) + double(bytes) / bw;
}

}  // namespace tatami::compiler::lowering
