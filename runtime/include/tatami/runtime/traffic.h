// Synthetic traffic on the mesh, for architects: patterns, an injection rate in 64 B packets per
// node per cycle, warm-up and measurement windows, and the figures of a load-latency curve.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tatami/arch/config.h"

namespace tatami::runtime {

struct TrafficOptions {
  std::string pattern = "uniform";  ///< uniform, transpose, bitcomp, hotspot, neighbor
  double rate = 0.1;                ///< offered packets per node per cycle (a transfer of P packets counts P)
  std::uint64_t packets = 1;        ///< transfer size in 64 B packets
  std::uint64_t warmupCycles = 1000;
  std::uint64_t measureCycles = 5000;
  std::uint64_t seed = 1;
  double hotspotFraction = 0.2;     ///< hotspot: share of transfers sent to the hotspot
  int hotspotNode = -1;             ///< hotspot: its node id (-1: the middle of the system)
};

struct TrafficPoint {
  double offeredRate = 0;   ///< packets per node per cycle, as generated
  double acceptedRate = 0;  ///< packets delivered per node per cycle during the measurement window
  double avgLatencyCycles = 0;  ///< creation to last byte delivered, transfers created in the window
  double p99LatencyCycles = 0;
  std::uint64_t transfersMeasured = 0;
  std::uint64_t packetHops = 0;  ///< packets x links booked, over the whole run
  int nodes = 0;                 ///< nodes that send under the pattern
  std::uint64_t cycles = 0;      ///< cycles simulated: warm-up, window and the drain after it
  double hostSeconds = 0;
};

/// Patterns `tatami traffic` knows.
const std::vector<std::string>& trafficPatterns();

/// The destination position of (row, col) under a permutation pattern on a rows x cols mesh:
/// "bitcomp" mirrors both coordinates; "transpose" sends the k-th position in column-major order
/// to the k-th in row-major order, (r, c) -> ((c rows + r) / cols, (c rows + r) mod cols): the
/// matrix transpose on a square mesh, and a permutation on any other.
GridPos permutationDestination(const std::string& pattern, int rows, int cols, GridPos from);

/// The throughput bound of a pattern under the configured routing: the largest offered rate
/// (packets per sending node per cycle) at which no link, injection port or ejection port is
/// asked for more than its bandwidth, from the exact channel loads of the pattern's destination
/// distribution (Dally and Towles, ch. 3). No network can accept more; a model that does is
/// wrong.
double throughputBound(const ArchConfig& config, const TrafficOptions& options);

/// Runs one offered rate on a fresh network built from `config`. Throws std::invalid_argument on
/// bad options (unknown pattern, rate outside (0, 1], ...).
TrafficPoint runTraffic(const ArchConfig& config, const TrafficOptions& options);

}  // namespace tatami::runtime
