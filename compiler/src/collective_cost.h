// Internal: the cost model's estimates for transfers over the mesh, from the same parameters the
// timing model charges (docs/timing.md), so that no calibrated constant stands in for them. Used
// by the collectives' estimates and by the choice between a one-ring and a two-level all-reduce.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <utility>
#include <vector>

#include "tatami/arch/config.h"

namespace tatami::compiler::lowering {

/// One packet's trip over `hops` router hops: the hop latency at each, plus the injection and the
/// ejection port (two more router stages).
inline double packetCycles(const ArchConfig& c, double hops) { return (hops + 2) * double(c.die.hop_latency_cycles); }

/// How far a ring's neighbours are: `hops` router hops, and for the slowest step `crossings` die
/// edges on the way, with `sharing` of the ring's transfers crossing the same edge at once.
struct RingReach {
  double hops = 1;
  int crossings = 0, sharing = 1;
  /// The slowest step's crossings: their latency, and the slowest edge's bytes per cycle (a
  /// tile's edge can be slower than a die's; see dieCrossing).
  double crossingLatency = 0, edgeBytesPerCycle = 1;
  /// Rings side by side whose steps run over the same mesh links at once (rings of cores `hops`
  /// apart along a snake, offset by one: up to `hops` of them share a link).
  double linkSharing = 1;
};

/// One step of a ring collective that moves `bytes` to a neighbour: the put's data (the DMA
/// setup, its packet trip with each die crossing's latency, and its serialization at the link's
/// bytes per cycle, or at the die edge's share when that is slower), the receiver's freed signal
/// back (one packet, no setup), and the instructions that issue them (li of the address at
/// scalar_cycles; put, swait and sincr one cycle each).
inline double ringStepCycles(const ArchConfig& c, std::uint64_t bytes, RingReach reach) {
  const double crossing = reach.crossingLatency;
  double serialize = reach.linkSharing * double(bytes) / double(c.die.link_bytes_per_cycle);
  if (reach.crossings) serialize = std::max(serialize, double(reach.sharing) * double(bytes) / reach.edgeBytesPerCycle);
  const double data = double(c.core.dma_setup_cycles) + packetCycles(c, reach.hops) + crossing + serialize;
  const double signal = packetCycles(c, reach.hops) + crossing;
  return data + signal + double(c.core.scalar_cycles) + 3;
}
inline double ringStepCycles(const ArchConfig& c, std::uint64_t bytes, double hops) { return ringStepCycles(c, bytes, RingReach{hops}); }

/// A reduction of `bytes` into the accumulator: the vector unit's pass over its lines, plus the
/// pipeline latency.
inline double addCycles(const ArchConfig& c, std::uint64_t bytes) {
  const double lines = double((bytes + std::uint64_t(c.core.sram_port_bytes) - 1) / std::uint64_t(c.core.sram_port_bytes));
  return lines + double(c.core.vector_latency_cycles);
}

/// A ring all-reduce over p cores of chunks of `chunkBytes`: P-1 reduce-scatter steps (each a
/// step and an add) and P-1 all-gather steps, which need no freed signal (each chunk lands in
/// its final place: one packet trip less per step).
inline double ringAllreduceCycles(const ArchConfig& c, std::uint64_t p, std::uint64_t chunkBytes, RingReach reach) {
  if (p < 2) return 0;
  const double signal = packetCycles(c, reach.hops) + reach.crossingLatency;
  return double(2 * (p - 1)) * ringStepCycles(c, chunkBytes, reach) - double(p - 1) * signal + double(p - 1) * addCycles(c, chunkBytes);
}
inline double ringAllreduceCycles(const ArchConfig& c, std::uint64_t p, std::uint64_t chunkBytes, double hops) {
  return ringAllreduceCycles(c, p, chunkBytes, RingReach{hops});
}

/// A ring reduce-scatter over p cores of chunks of `chunkBytes` (P-1 steps, each with its add),
/// and a ring all-gather (P-1 steps without the freed signal): together a ring all-reduce.
inline double ringReduceScatterCycles(const ArchConfig& c, std::uint64_t p, std::uint64_t chunkBytes, RingReach reach) {
  if (p < 2) return 0;
  return double(p - 1) * (ringStepCycles(c, chunkBytes, reach) + addCycles(c, chunkBytes));
}
inline double ringAllgatherCycles(const ArchConfig& c, std::uint64_t p, std::uint64_t chunkBytes, RingReach reach) {
  if (p < 2) return 0;
  const double signal = packetCycles(c, reach.hops) + reach.crossingLatency;
  return double(p - 1) * (ringStepCycles(c, chunkBytes, reach) - signal);
}

/// The three-level all-reduce: a reduce-scatter in groups of C1 (chunks b1), one among the C2
/// groups of C1 that make a die's group (chunks b2), a ring all-reduce across the G = p / (C1 C2)
/// dies' groups (chunks b3), then the all-gathers back.
inline double threeLevelAllreduceCycles(const ArchConfig& c, std::uint64_t p, std::uint64_t C1, std::uint64_t C2, std::uint64_t b1,
                                        std::uint64_t b2, std::uint64_t b3, RingReach r1, RingReach r2, RingReach r3) {
  return ringReduceScatterCycles(c, C1, b1, r1) + ringReduceScatterCycles(c, C2, b2, r2) + ringAllreduceCycles(c, p / (C1 * C2), b3, r3) +
         ringAllgatherCycles(c, C2, b2, r2) + ringAllgatherCycles(c, C1, b1, r1);
}

/// The two-level all-reduce over groups of C consecutive cores (G = p / C groups): inside the
/// groups on chunks of b1 bytes, across them on chunks of b2 bytes (the same position of
/// neighbouring groups).
inline double groupedAllreduceCycles(const ArchConfig& c, std::uint64_t p, std::uint64_t C, std::uint64_t b1, std::uint64_t b2,
                                     RingReach inside, RingReach across) {
  const std::uint64_t G = p / C;
  return ringAllreduceCycles(c, C, b1, inside) + ringAllreduceCycles(c, G, b2, across);
}

/// The die edges a transfer between cores `a` and `b` crosses (XY or YX routing: the difference
/// of their dies' rows plus that of their columns), their latency together, and the slowest
/// one's bandwidth as a whole die edge's bytes per cycle.
struct Crossings {
  int count = 0;
  double latency = 0, edgeBytesPerCycle = 1;
};
inline Crossings crossingsBetween(const ArchConfig& c, int a, int b) {
  const int da = dieOfCore(c, a), db = dieOfCore(c, b), cols = int(c.system.die_cols);
  GridPos at{da / cols, da % cols};
  const GridPos to{db / cols, db % cols};
  Crossings x;
  const auto cross = [&](GridPos next) {
    const Crossing one = dieCrossing(c, at, next);
    const double edge = one.linkBytesPerCycle * double(at.row == next.row ? c.die.rows : c.die.cols);
    x.edgeBytesPerCycle = x.count == 0 ? edge : std::min(x.edgeBytesPerCycle, edge);
    x.count += 1, x.latency += double(one.latencyCycles);
    at = next;
  };
  while (at.col != to.col) cross({at.row, at.col + (to.col > at.col ? 1 : -1)});
  while (at.row != to.row) cross({at.row + (to.row > at.row ? 1 : -1), at.col});
  return x;
}

/// How far a tree's children are from their leader at each level: `hops` router hops (about half
/// the span of a level's children, at most half a die), and the most die edges one put crosses.
struct TreeReach {
  std::vector<double> hops;
  std::vector<int> crossings;
  std::vector<double> crossingLatency, edgeBytesPerCycle;  ///< per level: as RingReach's
};

/// The reach of trees of fan-in F over the groups of `size` consecutive cores of `ring` (size 1:
/// one tree over the cores), the k-th cores of the groups making the k-th tree.
inline TreeReach treeReach(const ArchConfig& c, const std::vector<int>& ring, std::uint64_t size, std::uint64_t F) {
  TreeReach reach;
  const std::uint64_t members = ring.size() / size;
  for (std::uint64_t stride = 1; stride < members; stride *= F) {
    int most = 0;
    double latency = 0, edge = edgeBytesPerCycle(c);
    for (std::uint64_t leader = 0; leader < members; leader += stride * F)
      for (std::uint64_t j = 1; j < F && leader + j * stride < members; ++j)
        for (std::uint64_t k = 0; k < size; ++k) {
          const int a = ring[std::size_t(leader * size + k)], b = ring[std::size_t((leader + j * stride) * size + k)];
          if (dieOfCore(c, a) == dieOfCore(c, b)) continue;
          const Crossings x = crossingsBetween(c, a, b);
          most = std::max(most, x.count), latency = std::max(latency, x.latency), edge = std::min(edge, x.edgeBytesPerCycle);
        }
    reach.hops.push_back(std::min(double(stride * F * size) / 2, double(c.die.rows + c.die.cols) / 2));
    reach.crossings.push_back(most);
    reach.crossingLatency.push_back(latency);
    reach.edgeBytesPerCycle.push_back(edge);
  }
  return reach;
}

/// The tree all-reduce of `bytes` (the whole vector, uncut) with fan-in F: at each level a
/// leader tells its children it is ready, each child puts its sum into the leader's slot (the
/// puts arrive one after another at the leader's port) and the leader adds them; then back down,
/// each leader putting the result to its children one after another. `sharing`: trees side by
/// side whose puts cross the same die edge at once.
inline double treeAllreduceCycles(const ArchConfig& c, std::uint64_t F, std::uint64_t bytes, const TreeReach& reach, double sharing = 1) {
  double cycles = 0;
  const double setup = double(c.core.dma_setup_cycles);
  for (std::size_t l = 0; l < reach.hops.size(); ++l) {
    const double trip = packetCycles(c, reach.hops[l]) + reach.crossingLatency[l];
    double serialize = double(bytes) / double(c.die.link_bytes_per_cycle);
    if (reach.crossings[l]) serialize = std::max(serialize, sharing * double(bytes) / reach.edgeBytesPerCycle[l]);
    const double up = trip + setup + trip + double(F - 1) * (serialize + addCycles(c, bytes));
    const double down = double(F - 1) * (setup + serialize) + trip;
    cycles += up + down + double(c.core.scalar_cycles) * double(F) + 4;
  }
  return cycles;
}

/// The reach of a set of rings that run at once (each a list of cores, closed), neighbours
/// `hops` apart: the most die edges one step crosses, and how many of the steps cross between
/// the same two dies.
inline RingReach ringsReach(const ArchConfig& c, const std::vector<std::vector<int>>& rings, double hops) {
  RingReach reach{hops};
  reach.linkSharing = std::max(1.0, std::min(hops, double(rings.size())));
  reach.edgeBytesPerCycle = edgeBytesPerCycle(c);
  std::map<std::pair<int, int>, int> perEdge;
  for (const auto& ring : rings)
    for (std::size_t i = 0; ring.size() > 1 && i < ring.size(); ++i) {
      const int a = ring[i], b = ring[(i + 1) % ring.size()];
      if (dieOfCore(c, a) == dieOfCore(c, b)) continue;
      const Crossings x = crossingsBetween(c, a, b);
      reach.crossings = std::max(reach.crossings, x.count);
      reach.crossingLatency = std::max(reach.crossingLatency, x.latency);
      reach.edgeBytesPerCycle = std::min(reach.edgeBytesPerCycle, x.edgeBytesPerCycle);
      const int da = dieOfCore(c, a), db = dieOfCore(c, b);
      reach.sharing = std::max(reach.sharing, ++perEdge[{std::min(da, db), std::max(da, db)}]);
    }
  return reach;
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
