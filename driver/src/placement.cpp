// Placement: slices, grids, and streaming from HBM when SRAM is short.
#include "tatami/driver/placement.h"

#include <algorithm>
#include <iterator>

#include "tatami/compiler/partition.h"

namespace tatami::driver {

using namespace tatami::compiler;

std::vector<int> sliceOf(const CompileRequest& r, const ArchConfig& config) {
  if (r.slice == "die") {
    // The whole first die, in ring order: as many of its cores as the batch has examples.
    const bool tir = isTextIr(r.model);
    std::vector<int> ring = sliceRing(config, int(config.die.rows), int(config.die.cols));
    ring.resize(!tir && r.batch > 0 ? std::min<std::size_t>(ring.size(), std::size_t(r.batch)) : 1);
    return ring;
  }
  if (r.slice.empty()) return sliceRing(config, 1, 1);
  const auto x = r.slice.find('x');
  int rows = 0, cols = 0;
  try {
    if (x == std::string::npos) throw std::invalid_argument("");
    rows = std::stoi(r.slice.substr(0, x));
    cols = std::stoi(r.slice.substr(x + 1));
  } catch (const std::exception&) {
    throw RequestError("--slice '" + r.slice + "': expected ROWSxCOLS, e.g. 2x2");
  }
  return sliceRing(config, rows, cols);
}

bool feedsFromDips(const CompileRequest& r, const ArchConfig& config) {
  if (r.feed == "host") return false;
  if (r.feed != "dip" && r.feed != "auto") throw RequestError("--feed '" + r.feed + "': expected dip, host or auto");
  if (dipCount(config) > 0) return true;
  if (r.feed == "dip")
    throw RequestError("--feed dip: this system has no interface processor (dip.per_tile on a whole training tile, "
                       "dip.edge_sources on a smaller system); --feed host writes the inputs into SRAM");
  return false;
}

CoreContext coreContext(const CompileRequest& r, const ArchConfig& config, const std::vector<int>& ring, std::int64_t k, std::int64_t cores) {
  CoreContext ctx(int(k), ring, r.precision);
  if (!feedsFromDips(r, config)) return ctx;
  const std::int64_t dips = dipCount(config), perDip = (std::max<std::int64_t>(cores, 1) + dips - 1) / dips;
  const std::uint64_t half = (std::uint64_t(config.dip.hbm_gib) << 30) / 2;
  ctx.loadInputs = true;
  ctx.inputBytes = std::min<std::uint64_t>(16ull << 20, half / std::uint64_t(perDip)) / 64 * 64;
  ctx.inputBase = std::uint64_t(k % dips) * 2 * half + half + std::uint64_t(k / dips) * ctx.inputBytes;
  return ctx;
}

std::function<void(std::size_t, CoreContext&)> gridFeed(const CompileRequest& r, const ArchConfig& config, const GridSpec& spec) {
  if (!feedsFromDips(r, config)) return {};
  return [r, &config, cores = spec.cores](std::size_t k, CoreContext& ctx) {
    const CoreContext feed = coreContext(r, config, {cores[k]}, std::int64_t(k), std::int64_t(cores.size()));
    ctx.loadInputs = feed.loadInputs, ctx.inputBase = feed.inputBase, ctx.inputBytes = feed.inputBytes;
  };
}

/// Lowers for core `k` of a job; when the step does not fit in SRAM and the system has HBM,
/// lowers it again streaming parameters and optimizer state from HBM (core k's region: 256 MiB
/// of DIP k mod DIPs), and when that does not fit either, offloading the intermediates the step
/// keeps across long stretches (CoreContext::offloadGap), then the all-reduced gradients too
/// (CoreContext::offloadReduced).
LoweredProgram lowerOrStream(const Graph& g, const ArchConfig& config, CoreContext ctx, std::int64_t k) {
  constexpr std::uint64_t kCoreRegion = 256ull << 20;  // of a DIP's HBM, per core
  const std::int64_t dips = dipCount(config);
  try {
    return lowerToCore(g, config, ctx);
  } catch (const SramOverflow&) {
    if (dips == 0) throw;
  }
  ctx.stream = true;
  ctx.hbmBase = std::uint64_t(k % dips) * (std::uint64_t(config.dip.hbm_gib) << 30) + std::uint64_t(k / dips) * kCoreRegion;
  ctx.hbmBytes = kCoreRegion;
  // Then the activations the backward pass keeps go to HBM as well (gap 0: none): first only
  // those kept longest (the least traffic), then those kept across fewer ops, until the step
  // fits; then the all-reduced gradients too; the last try's shortfall is the one named.
  const std::pair<std::size_t, bool> tries[] = {{0, false}, {64, false}, {32, false}, {16, false}, {8, false}, {64, true}, {8, true}};
  for (const auto& [gap, reduced] : tries) {
    ctx.offloadGap = gap, ctx.offloadReduced = reduced;
    try {
      return lowerToCore(g, config, ctx);
    } catch (const SramOverflow&) {
      if (&gap == &tries[std::size(tries) - 1].first) throw;
    }
  }
  return {};  // not reached
}

GridSpec gridOf(const CompileRequest& r, const ArchConfig& config) {
  GridSpec spec;
  const std::string& grid = r.grid;
  const auto x = grid.find('x');
  try {
    if (x == std::string::npos) throw std::invalid_argument("");
    spec.rows = std::stoi(grid.substr(0, x)), spec.cols = std::stoi(grid.substr(x + 1));
  } catch (const std::exception&) {
    throw RequestError("--grid '" + grid + "': expected ROWSxCOLS, e.g. 4x4");
  }
  int sliceRows = int(config.die.rows), sliceCols = int(config.die.cols);
  if (!r.slice.empty() && r.slice != "die") {
    sliceOf(r, config);  // checks the text and the size
    sliceRows = std::stoi(r.slice.substr(0, r.slice.find('x'))), sliceCols = std::stoi(r.slice.substr(r.slice.find('x') + 1));
  }
  spec.cores = gridCores(config, sliceRows, sliceCols, spec.rows, spec.cols);
  return spec;
}

}  // namespace tatami::driver
