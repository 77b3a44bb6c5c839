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
  runtime::Bundle bundle;
  std::uint64_t sramPeakBytes = 0;  ///< the most any core's program uses
  std::vector<compiler::LoweredProgram> lowered;  ///< per core, in the bundle's order (ops, estimates)
  compiler::GridPlan plan;                        ///< on a grid: each tensor's layout
  /// Where the step runs ("one core", "data parallel over a 2x2 slice", ...), and, when it was
  /// chosen automatically, every placement weighed and why the others lost.
  std::string placement;
  std::vector<std::string> weighed;
};

/// One step compiled, run once on the emulator from seeded inputs, and compared with the host
/// oracle (FP32) on the whole graph: the relative error of every output.
struct StepCheck {
  CompiledJob job;
  runtime::BundleRun run;
  std::vector<std::pair<std::string, double>> errors;  ///< per output of the step, in order
  double worst = 0;
};
/// Runs the job's bundle on `feeds` (into `run`) and compares every output of the step with the
/// host oracle in FP32 on the same inputs: the relative error of each, in the step's order (none
/// when the run faulted).
std::vector<std::pair<std::string, double>> runAgainstOracle(const CompiledJob& job, const ArchConfig& config,
                                                             const std::map<std::string, compiler::Tensor>& feeds,
                                                             const runtime::RunOptions& options, runtime::BundleRun& run);

StepCheck checkStep(const CompileRequest& r, const ArchConfig& config, std::uint64_t seed, runtime::RunOptions options = {});

/// Compiles r's step into a bundle: on a tensor-parallel grid when r.grid ("RxC") is given (on
/// the cores of r.slice, else the first die), else data parallel over r.slice. With neither, on
/// one core if the step fits there (streaming from HBM when the configuration has it), else on the
/// smallest data-parallel slice (1x2, 2x2, 2x4, 4x4, ... of the first die; a batch that does not
/// divide evenly is split unevenly, see shareOf) whose cores it fits. Throws RequestError or compiler::CompileError (SramOverflow when
/// it fits nowhere, naming what did not fit on one core).
/// The stages after the graph passes named in r.printAfter are printed to `print` (for the first
/// core, or grid position).
CompiledJob compileJob(const CompileRequest& r, const ArchConfig& config, std::ostream* print = nullptr);

/// The bundle of a compiled step: its tensors (inputs, parameters and state, outputs) with the
/// pieces each core holds, and every core's program. `blockOn(k, value)` gives core k's block.
runtime::Bundle makeBundle(const CompileRequest& r, const std::string& placement, const ArchConfig& config, const compiler::Graph& g,
                           const std::vector<int>& cores, const std::vector<compiler::LoweredProgram>& lowered,
                           const std::function<TensorBlock(std::size_t, int)>& blockOn);


}  // namespace tatami::driver
