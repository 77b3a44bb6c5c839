// Where a compiled step runs: a data-parallel slice of cores (a ring), a tensor-parallel grid, and
// the fallback that streams weights from HBM when a core's SRAM is too small.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/compiler/lower.h"
#include "tatami/driver/step.h"

namespace tatami::driver {

/// The cores of r.slice in ring order (empty: one core); "die": as many of the first die's cores
/// as the batch has examples (one for a .tir model or without a batch). Throws RequestError for a
/// malformed slice.
std::vector<int> sliceOf(const CompileRequest& r, const ArchConfig& config);

/// A tensor-parallel grid: RxC from r.grid, laid on the cores of r.slice (empty: the whole first
/// die).
struct GridSpec {
  int rows = 0, cols = 0;
  std::vector<int> cores;
};
GridSpec gridOf(const CompileRequest& r, const ArchConfig& config);
/// What placeOnGrid's positions need of r.feed: each one's HBM for the step's inputs.
std::function<void(std::size_t, compiler::CoreContext&)> gridFeed(const CompileRequest& r, const ArchConfig& config, const GridSpec& spec);


/// Whether the step's inputs come from the DIPs (r.feed, "auto" resolved for this system); throws
/// RequestError for an unknown value or "dip" on a system without DIPs.
bool feedsFromDips(const CompileRequest& r, const ArchConfig& config);

/// The lowering context of core `k` (of `cores`, in `ring` for data parallel): its precision and,
/// when the inputs come from the DIPs, its share of their HBM for them (the upper half of DIP
/// k mod DIPs, up to 16 MiB a core).
compiler::CoreContext coreContext(const CompileRequest& r, const ArchConfig& config, const std::vector<int>& ring, std::int64_t k, std::int64_t cores);

/// Lowers for core `k` of a job; when the step does not fit in SRAM and the system has HBM,
/// lowers it again streaming parameters and optimizer state from HBM (core k's region: 256 MiB
/// of DIP k mod DIPs); when that does not fit either, also offloading to HBM the intermediates
/// the step keeps across long stretches of ops (compiler::CoreContext::offloadGap).
compiler::LoweredProgram lowerOrStream(const compiler::Graph& g, const ArchConfig& config, compiler::CoreContext ctx, std::int64_t k);

}  // namespace tatami::driver
