// Figures derived from the architecture config: peak rates, capacities and bandwidths per core,
// die and tile. Rates are decimal (TFLOPS, TB/s); capacities binary (KiB, MiB).
#pragma once

#include <cstdint>

#include "tatami/arch/config.h"

namespace tatami {

struct MachineFigures {
  std::int64_t gridPositionsPerDie = 0;
  std::int64_t activeCoresPerDie = 0;
  std::int64_t diesPerTile = 0;
  std::int64_t activeCoresPerTile = 0;
  std::int64_t diesInSystem = 0;
  std::int64_t activeCoresInSystem = 0;

  std::int64_t bf16FlopPerCyclePerCore = 0;  ///< 2 x MACs per cycle
  std::int64_t fp32FlopPerCyclePerCore = 0;  ///< 2 x FMAs per cycle
  double clockHz = 0;

  double peakBf16TflopsPerCore = 0;
  double peakFp32TflopsPerCore = 0;
  double peakBf16TflopsPerDie = 0;
  double peakFp32TflopsPerDie = 0;
  double peakBf16PflopsPerTile = 0;
  double peakFp32TflopsPerTile = 0;

  double sramKibPerCore = 0;
  double sramMibPerCore = 0;
  double sramMibPerDie = 0;
  double sramMibPerTile = 0;

  std::int64_t bisectionLinks = 0;  ///< mesh links cut by the die's narrower bisection
  double bisectionBytesPerCycle = 0;
  double bisectionTbpsPerDirection = 0;
  double linkGbps = 0;  ///< one mesh link, per direction
  double edgeTbpsPerDirection = 0;
  double edgeBytesPerCycle = 0;  ///< die.edge_gb_per_s at the core's clock
  std::int64_t d2dLatencyCycles = 0;
  double tileEdgeTbpsPerDirection = 0;
  double tileEdgeBytesPerCycle = 0;  ///< tile.edge_gb_per_s at the core's clock
  /// One mesh link across a tile's east or west edge: the smaller of its tile edge and die edge shares.
  double tileLinkBytesPerCycle = 0;
  std::int64_t tileLatencyCycles = 0;
  std::int64_t tiles = 0;  ///< whole training tiles in the modelled system
  double hbmBytesPerCycle = 0, dipLinkBytesPerCycle = 0;
  std::int64_t hbmLatencyCycles = 0;
  /// What the matrix units can be fed: the MACs per cycle of a deep mmaz under the core's timing
  /// formulas, whose A and B panels stream through one SRAM read port (docs/timing.md, "mma").
  std::int64_t feedBf16MacsPerCycle = 0, feedCfp8MacsPerCycle = 0;
  double feedBf16TflopsPerCore = 0, feedCfp8TflopsPerCore = 0;
  double feedBf16TflopsPerDie = 0, feedCfp8TflopsPerDie = 0;
};

/// Computes the derived figures. Expects a validated config.
MachineFigures computeFigures(const ArchConfig& config);

}  // namespace tatami
