// Derived machine figures. Products are formed in integers (exact) and divided once, so that
// the JSON output shows the nearest double to the true decimal figure.
#include "tatami/arch/figures.h"

#include <algorithm>

#include "tatami/arch/core_timing.h"

namespace tatami {

MachineFigures computeFigures(const ArchConfig& c) {
  MachineFigures f;
  f.gridPositionsPerDie = c.die.rows * c.die.cols;
  f.activeCoresPerDie = f.gridPositionsPerDie - static_cast<std::int64_t>(c.die.disabled_cores.size());
  f.diesPerTile = c.tile.die_rows * c.tile.die_cols;
  f.activeCoresPerTile = f.activeCoresPerDie * f.diesPerTile;
  f.diesInSystem = c.system.die_rows * c.system.die_cols;
  f.activeCoresInSystem = f.activeCoresPerDie * f.diesInSystem;

  f.bf16FlopPerCyclePerCore = 2 * c.core.matrix_units * c.core.matrix_dim * c.core.matrix_dim;
  f.fp32FlopPerCyclePerCore = 2 * c.core.fp32_fma_per_cycle;
  f.clockHz = c.core.clock_ghz * 1e9;

  const double hz = f.clockHz;
  f.peakBf16TflopsPerCore = double(f.bf16FlopPerCyclePerCore) * hz / 1e12;
  f.peakFp32TflopsPerCore = double(f.fp32FlopPerCyclePerCore) * hz / 1e12;
  f.peakBf16TflopsPerDie = double(f.bf16FlopPerCyclePerCore * f.activeCoresPerDie) * hz / 1e12;
  f.peakFp32TflopsPerDie = double(f.fp32FlopPerCyclePerCore * f.activeCoresPerDie) * hz / 1e12;
  f.peakBf16PflopsPerTile = double(f.bf16FlopPerCyclePerCore * f.activeCoresPerTile) * hz / 1e15;
  f.peakFp32TflopsPerTile = double(f.fp32FlopPerCyclePerCore * f.activeCoresPerTile) * hz / 1e12;

  f.sramKibPerCore = double(c.core.sram_kib);
  f.sramMibPerCore = double(c.core.sram_kib) / 1024.0;
  f.sramMibPerDie = double(c.core.sram_kib * f.activeCoresPerDie) / 1024.0;
  f.sramMibPerTile = double(c.core.sram_kib * f.activeCoresPerTile) / 1024.0;

  // Halving the die across its longer dimension cuts one link per row (or column) of the other.
  f.bisectionLinks = std::min(c.die.rows, c.die.cols);
  f.bisectionBytesPerCycle = double(f.bisectionLinks * c.die.link_bytes_per_cycle);
  f.bisectionTbpsPerDirection = double(f.bisectionLinks * c.die.link_bytes_per_cycle) * hz / 1e12;
  f.linkGbps = double(c.die.link_bytes_per_cycle) * hz / 1e9;
  f.edgeTbpsPerDirection = c.die.edge_gb_per_s / 1000.0;
  f.edgeBytesPerCycle = edgeBytesPerCycle(c);
  f.d2dLatencyCycles = d2dLatencyCycles(c);
  f.tileEdgeTbpsPerDirection = c.tile.edge_gb_per_s / 1000.0;
  f.tileEdgeBytesPerCycle = tileEdgeBytesPerCycle(c);
  f.tileLinkBytesPerCycle = dieCrossing(c, {0, int(c.tile.die_cols) - 1}, {0, int(c.tile.die_cols)}).linkBytesPerCycle;
  f.tileLatencyCycles = tileLatencyCycles(c);
  f.tiles = (c.system.die_rows / c.tile.die_rows) * (c.system.die_cols / c.tile.die_cols);
  f.hbmBytesPerCycle = hbmBytesPerCycle(c);
  f.dipLinkBytesPerCycle = dipLinkBytesPerCycle(c);
  f.hbmLatencyCycles = hbmLatencyCycles(c);
  // What an mmaz of a deep K sustains under the core's own timing formulas (CoreTiming): the
  // larger of its compute and its operand stream through the read port.
  const CoreTiming timing(c);
  const auto fed = [&](DType type) {
    Instruction mmaz;
    mmaz.op = Op::Mmaz, mmaz.type = type;
    Operands o;
    o.n = 4096;
    return std::int64_t(16 * 16 * o.n / timing.usage(mmaz, o).occupancy);
  };
  f.feedBf16MacsPerCycle = fed(DType::Bf16), f.feedCfp8MacsPerCycle = fed(DType::E4m3);
  f.feedBf16TflopsPerCore = 2.0 * double(f.feedBf16MacsPerCycle) * hz / 1e12;
  f.feedCfp8TflopsPerCore = 2.0 * double(f.feedCfp8MacsPerCycle) * hz / 1e12;
  f.feedBf16TflopsPerDie = f.feedBf16TflopsPerCore * double(f.activeCoresPerDie);
  f.feedCfp8TflopsPerDie = f.feedCfp8TflopsPerCore * double(f.activeCoresPerDie);
  return f;
}

}  // namespace tatami
