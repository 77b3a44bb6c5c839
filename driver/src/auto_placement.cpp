// Automatic placement: one core, data-parallel slices and tensor-parallel grids, each estimated
// by the cost model; the winner is the fastest that pays for its cores.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "tatami/compiler/partition.h"
#include "tatami/driver/job.h"
#include "tatami/driver/placement.h"

namespace tatami::driver {

using namespace tatami::compiler;

namespace {

/// The cost model's step: its ops placed on the core's threads.
double programCycles(const LoweredProgram& lp) { return lp.estimatedCycles; }

/// A data-parallel slice's step: core 0's program (the largest share, so the slowest core).
double estimateSlice(const CompileRequest& r, const ArchConfig& config, const Graph& g) {
  const std::vector<int> ring = sliceOf(r, config);
  const std::int64_t cores = std::int64_t(ring.size());
  if (cores == 1) return programCycles(lowerOrStream(g, config, coreContext(r, config, ring, 0, 1), 0));
  const Graph part = compileShare(r, g, shareOf(r.batch, cores, 0));
  return programCycles(lowerOrStream(part, config, coreContext(r, config, ring, 0, cores), 0));
}

/// A grid's step: its slowest position's program (of the first copy, with copies on other dies).
double estimateGrid(const CompileRequest& r, const ArchConfig& config, const Graph& g) {
  std::vector<LoweredProgram> lowered;
  if (r.replicas > 1) {
    lowered = lowerGridReplica(r, config, g);
  } else {
    const GridSpec spec = gridOf(r, config);
    lowered = placeOnGrid(g, config, spec.cores, spec.rows, spec.cols, r.precision, true, {}, gridFeed(r, config, spec),
                          [&](const Graph& local, const CoreContext& ctx, std::size_t pos) { return lowerOrStream(local, config, ctx, std::int64_t(pos)); })
                  .lowered;
  }
  double slowest = 0;
  for (const auto& lp : lowered) slowest = std::max(slowest, programCycles(lp));
  return slowest;
}

std::string cyclesText(double c) {
  std::string s = std::to_string(std::llround(c));
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(std::size_t(i), ",");
  return s;
}

std::string shapeName(int rows, int cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

/// Weighs one candidate: its estimate, or why it cannot be built. Returns false when a larger
/// candidate of its kind cannot do better (an op the grid cannot split, a bad request).
bool weigh(PlacementCandidate& c, const CompileRequest& r, const ArchConfig& config, const Graph& g) {
  CompileRequest at = r;
  at.slice = c.slice, at.grid = c.grid, at.replicas = c.replicas;
  try {
    c.estimate = c.grid.empty() ? estimateSlice(at, config, g) : estimateGrid(at, config, g);
    return true;
  } catch (const SramOverflow& e) {
    c.why = e.what();
    return true;
  } catch (const std::exception& e) {  // CompileError, RequestError: the same for larger ones
    c.why = e.what();
    return false;
  }
}

}  // namespace

std::string PlacementCandidate::name() const {
  if (!grid.empty() && replicas > 1) return "tensor parallel over a " + grid + " grid on each of " + std::to_string(replicas) + " dies";
  if (!grid.empty()) return "tensor parallel over a " + grid + " grid";
  if (slice.empty()) return "one core";
  if (slice == "die") return "data parallel over the whole die, " + std::to_string(cores) + " cores";
  if (dies > 1) return "data parallel over " + std::to_string(dies) + " dies (a " + slice + " slice, " + cyclesText(double(cores)) + " cores)";
  return "data parallel over a " + slice + " slice";
}

std::vector<PlacementCandidate> weighPlacements(const CompileRequest& r, const ArchConfig& config, const Graph& g) {
  std::vector<PlacementCandidate> all;
  all.emplace_back();
  weigh(all.back(), r, config, g);
  const bool tir = isTextIr(r.model);
  const int dieRows = int(config.die.rows), dieCols = int(config.die.cols);
  // Data parallel: slices that double, then the whole die, while each core has an example and
  // the estimates fall.
  double previous = all.front().estimate;
  std::int64_t lastCores = 1;
  const auto slices = [&] {
    std::vector<std::string> s;
    for (int rows = 1, cols = 2; rows <= dieRows && cols <= dieCols; rows < cols ? rows *= 2 : cols *= 2) s.push_back(shapeName(rows, cols));
    s.push_back("die");
    return s;
  }();
  // Weighs a data-parallel candidate; false when its sequence stops there (it cannot be built, or
  // its estimate does not fall). One with no more cores than the last, or more than the batch
  // has examples, is passed over (the whole die last: as many of its cores as examples).
  const auto weighSlice = [&](PlacementCandidate c) {
    CompileRequest at = r;
    at.slice = c.slice;
    c.cores = std::int64_t(sliceOf(at, config).size());
    if (c.cores <= lastCores || c.cores > r.batch) return true;
    const bool further = weigh(c, r, config, g);
    all.push_back(c);
    lastCores = c.cores;
    if (!further || (c.estimate > 0 && previous > 0 && c.estimate >= previous)) return false;
    if (c.estimate > 0) previous = c.estimate;
    return true;
  };
  for (const std::string& slice : tir ? std::vector<std::string>{} : slices) {
    PlacementCandidate c;
    c.slice = slice;
    if (!weighSlice(c)) break;
  }
  // Data parallel over whole dies, on a system of several, when the whole first die was weighed
  // last and was the fastest so far: rectangles of dies that double along their shorter side, up
  // to the whole system.
  const int systemDieRows = int(config.system.die_rows), systemDieCols = int(config.system.die_cols);
  const bool wholeDieHelped = !all.back().slice.empty() && all.back().estimate > 0 && all.back().estimate == previous &&
                              lastCores == std::int64_t(sliceRing(config, dieRows, dieCols).size());
  for (int dr = 1, dc = 1; wholeDieHelped && dr * dc < systemDieRows * systemDieCols;) {
    if ((dc <= dr || dr == systemDieRows) && dc < systemDieCols) dc = std::min(2 * dc, systemDieCols);
    else dr = std::min(2 * dr, systemDieRows);
    PlacementCandidate c;
    c.slice = shapeName(dr * dieRows, dc * dieCols), c.dies = std::int64_t(dr) * dc;
    if (!weighSlice(c)) break;
  }
  // Tensor parallel: grids that double on the first die, while the estimates fall (a grid's
  // planner may leave a larger grid's extra positions idle) and until two in a row do not fit.
  previous = 0;
  int misses = 0;
  for (int rows = 2, cols = 2; rows <= dieRows && cols <= dieCols && misses < 2; rows < cols ? rows *= 2 : cols *= 2) {
    PlacementCandidate c;
    c.grid = shapeName(rows, cols), c.cores = std::int64_t(rows) * cols;
    const bool further = weigh(c, r, config, g);
    all.push_back(c);
    if (!further || (c.estimate > 0 && previous > 0 && c.estimate >= previous)) break;
    misses = c.estimate > 0 ? 0 : misses + 1;
    if (c.estimate > 0) previous = c.estimate;
  }
  // On a system of several dies: copies of the fastest grid, one per die, data parallel over
  // them, their number doubling (then every die) while it divides the batch and the estimates fall.
  const auto bestGrid = std::min_element(all.begin(), all.end(), [](const PlacementCandidate& a, const PlacementCandidate& b) {
    const auto key = [](const PlacementCandidate& c) { return c.grid.empty() || c.estimate <= 0 ? 1e300 : c.estimate; };
    return key(a) < key(b);
  });
  const int systemDies = systemDieRows * systemDieCols;
  if (!tir && systemDies > 1 && bestGrid != all.end() && !bestGrid->grid.empty() && bestGrid->estimate > 0) {
    const PlacementCandidate grid = *bestGrid;
    previous = grid.estimate;
    for (int k = 2; k <= systemDies; k = k == systemDies ? systemDies + 1 : std::min(2 * k, systemDies)) {
      if (r.batch % k) continue;
      PlacementCandidate c = grid;
      c.replicas = k, c.dies = k, c.cores = grid.cores * k, c.estimate = 0, c.why.clear();
      const bool further = weigh(c, r, config, g);
      all.push_back(c);
      if (!further || c.estimate <= 0 || c.estimate >= previous) break;
      previous = c.estimate;
    }
  }
  return all;
}

int choosePlacement(const std::vector<PlacementCandidate>& candidates) {
  double fastest = 0;
  for (const auto& c : candidates)
    if (c.estimate > 0 && (fastest == 0 || c.estimate < fastest)) fastest = c.estimate;
  int best = -1;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const auto& c = candidates[i];
    if (c.estimate <= 0 || c.estimate > fastest * (1 + kPlacementGain)) continue;
    if (best < 0 || c.cores < candidates[std::size_t(best)].cores ||
        (c.cores == candidates[std::size_t(best)].cores && c.estimate < candidates[std::size_t(best)].estimate))
      best = int(i);
  }
  return best;
}

CompiledJob placeAutomatically(const CompileRequest& r, const ArchConfig& config, const Graph& g, std::ostream* print) {
  const std::vector<PlacementCandidate> candidates = weighPlacements(r, config, g);
  const int best = choosePlacement(candidates);
  std::vector<std::string> weighed;
  double fastest = 0;
  for (const auto& c : candidates) {
    if (c.estimate > 0 && (fastest == 0 || c.estimate < fastest)) fastest = c.estimate;
    weighed.push_back(c.name() + ": " + (c.estimate > 0 ? "est " + cyclesText(c.estimate) + " cycles" : c.why));
  }
  if (best < 0) {
    std::string all;
    for (const auto& w : weighed) all += "\n  " + w;
    throw SramOverflow("the step fits no placement tried (give --slice or --grid to choose one):" + all);
  }
  const PlacementCandidate& won = candidates[std::size_t(best)];
  CompileRequest at = r;
  at.slice = won.slice, at.grid = won.grid, at.replicas = won.replicas;
  CompiledJob job = won.grid.empty() ? compileOnSlice(at, config, g, print) : compileOnGrid(at, config, g, print);
  std::ostringstream why;
  why << won.name() << " (chosen by the cost model: est " << cyclesText(won.estimate) << " cycles per step, ";
  if (won.estimate == fastest) why << "the fastest";
  else why << "within " << std::llround(kPlacementGain * 100) << "% of the fastest (" << cyclesText(fastest) << ") on fewer cores";
  why << " of " << candidates.size() << " weighed)";
  job.placement = why.str();
  job.weighed = weighed;
  return job;
}

}  // namespace tatami::driver
