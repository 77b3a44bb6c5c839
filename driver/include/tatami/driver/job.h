// A compiled job as the runtime takes it: the bundle (programs, every tensor's role and place) of
// a training step on one core, a data-parallel slice or a tensor-parallel grid.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tatami/arch/blocks.h"
#include "tatami/arch/config.h"
#include "tatami/compiler/lower.h"
#include "tatami/compiler/partition.h"
#include "tatami/driver/step.h"
#include "tatami/runtime/bundle.h"

namespace tatami::driver {

struct CompiledJob {
  compiler::Graph step;  ///< the whole training step (before placement): the oracle's graph
  /// "mixed" or "fp32", as compiled: the oracle rounds matrix operands to BF16 in mixed precision
  std::string precision = "mixed";
  runtime::Bundle bundle;
  std::uint64_t sramPeakBytes = 0;  ///< the most any core's program uses
  /// Per core, in the bundle's order: ops, estimates, SRAM use. Their programs have moved into
  /// the bundle (a whole die's programs are hundreds of MB; one copy is kept).
  std::vector<compiler::LoweredProgram> lowered;
  compiler::GridPlan plan;                        ///< on a grid: each tensor's layout
  /// Where the step runs ("one core", "data parallel over a 2x2 slice", ...), and, when it was
  /// chosen automatically, why it won and every placement weighed (its estimate, or why not).
  std::string placement;
  std::vector<std::string> weighed;
  std::string slice, grid;  ///< the --slice and --grid that give this placement (chosen or given)
  int replicas = 1;         ///< and the --replicas
};

/// A placement the automatic search weighs: the flags that give it, its cores, and the cost
/// model's estimate of a step (the slowest core's program), or why it cannot run.
struct PlacementCandidate {
  std::string slice, grid;  ///< as --slice and --grid take them (both empty: one core)
  std::int64_t cores = 1;
  std::int64_t dies = 1;    ///< the dies a data-parallel slice, or a grid's copies, span
  int replicas = 1;         ///< copies of the grid, one per die (as --replicas)
  double estimate = 0;      ///< cycles per step; 0 when it does not fit or cannot be built
  std::string why;          ///< why it cannot (the compiler's message)
  /// "one core", "data parallel over a 2x2 slice", "data parallel over 2x2 dies (36x40, 1,416
  /// cores)", "tensor parallel over a 2x2 grid"
  std::string name() const;
};

/// A placement with more cores wins only when its estimate beats the fastest placement on fewer
/// cores by more than this fraction: more of the machine is used only when it pays.
constexpr double kPlacementGain = 0.10;

/// One step compiled, run once on the emulator from seeded inputs, and compared with the host
/// oracle (FP32) on the whole graph: the relative error of every output.
struct StepCheck {
  CompiledJob job;
  runtime::BundleRun run;
  std::vector<std::pair<std::string, double>> errors;  ///< per output of the step, in order
  double worst = 0;
};
/// Runs the job's bundle on `feeds` (into `run`) and compares every output of the step with the
/// host oracle in FP32 on the same inputs, under the job's precision (in mixed precision every
/// matrix product's operands rounded to BF16, as the matrix unit reads them): the relative error
/// of each, in the step's order (none when the run faulted).
std::vector<std::pair<std::string, double>> runAgainstOracle(const CompiledJob& job, const ArchConfig& config,
                                                             const std::map<std::string, compiler::Tensor>& feeds,
                                                             const runtime::RunOptions& options, runtime::BundleRun& run);

StepCheck checkStep(const CompileRequest& r, const ArchConfig& config, std::uint64_t seed, runtime::RunOptions options = {});

/// Compiles r's step into a bundle: on a tensor-parallel grid when r.grid ("RxC") is given (on
/// the cores of r.slice, else the first die), else data parallel over r.slice. With neither, the
/// placement is chosen by the cost model (placeAutomatically). Throws RequestError or
/// compiler::CompileError (SramOverflow when it fits nowhere).
/// The stages after the graph passes named in r.printAfter are printed to `print` (for the first
/// core, or grid position).
CompiledJob compileJob(const CompileRequest& r, const ArchConfig& config, std::ostream* print = nullptr);

/// Data parallel over r.slice (empty: one core) for the step `g`: core k takes shareOf(batch,
/// cores, k) examples (streaming from HBM where SRAM is short and the configuration has it).
CompiledJob compileOnSlice(const CompileRequest& r, const ArchConfig& config, const compiler::Graph& g, std::ostream* print = nullptr);
/// A data-parallel core's step graph for its share of the batch; throws RequestError when the
/// model's batch dimension is fixed (the share would hold the whole batch).
compiler::Graph compileShare(const CompileRequest& r, const compiler::Graph& whole, const BatchShare& share);
/// Tensor parallel over the r.grid grid of r.slice's cores (empty: the first die); with
/// r.replicas > 1, a copy of that grid on each of the first r.replicas dies of the system's tour,
/// on its share of the batch, data parallel over them (throws RequestError when the grid leaves
/// the first die, the system has fewer dies or the batch does not split evenly).
CompiledJob compileOnGrid(const CompileRequest& r, const ArchConfig& config, const compiler::Graph& g, std::ostream* print = nullptr);

/// The programs of the first copy of a grid with r.replicas copies (one per die; see
/// compileOnGrid): what the cost model weighs, without lowering every copy.
std::vector<compiler::LoweredProgram> lowerGridReplica(const CompileRequest& r, const ArchConfig& config, const compiler::Graph& g);

/// The placements the automatic search weighs for `g`, each with its estimate: one core;
/// data-parallel slices of the first die (1x2, 2x2, 2x4, 4x4, ..., then the whole die) while a
/// core has at least one example; tensor-parallel grids (2x2, 2x4, 4x4, ...) of the first die;
/// on a system of several dies, copies of the fastest grid on 2, 4, ... dies (then all of them)
/// while their number divides the batch.
/// A sequence stops where its estimates stop falling, where it cannot be built (an op without a
/// split rule), and for grids after two in a row that do not fit.
std::vector<PlacementCandidate> weighPlacements(const CompileRequest& r, const ArchConfig& config, const compiler::Graph& g);

/// The winner among weighed candidates: the fewest cores among those whose estimate is within
/// kPlacementGain of the fastest (ties: the faster). -1 when none fits.
int choosePlacement(const std::vector<PlacementCandidate>& candidates);

/// No placement given: weighs the candidates, compiles the winner, and says why it won
/// (CompiledJob::placement, ::weighed). Throws SramOverflow naming every candidate's reason when
/// none fits.
CompiledJob placeAutomatically(const CompileRequest& r, const ArchConfig& config, const compiler::Graph& g, std::ostream* print = nullptr);

/// The bundle of a compiled step: its tensors (inputs, parameters and state, outputs) with the
/// pieces each core holds, and every core's program. `blockOn(k, value)` gives core k's block.
/// Each core's program, notes and header move from `lowered` into the bundle.
runtime::Bundle makeBundle(const CompileRequest& r, const std::string& placement, const ArchConfig& config, const compiler::Graph& g,
                           const std::vector<int>& cores, std::vector<compiler::LoweredProgram>& lowered,
                           const std::function<TensorBlock(std::size_t, int)>& blockOn);


}  // namespace tatami::driver
