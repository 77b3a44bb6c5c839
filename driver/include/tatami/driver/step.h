// What a user asks the compiler for, above the compiler and the runtime: the training step of a
// model (loss, optimizer, batch, precision) built through the named passes, the seeded inputs a
// check or a regression feeds it, and the comparison against the host oracle.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/ir.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/compiler/training.h"

namespace tatami::driver {

/// A request that cannot be met as given (a bad --slice text, a batch that does not split over
/// the cores): the message names the option.
class RequestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The optimizer a request starts with: SGD at learning rate 0.1, no momentum, no weight decay.
compiler::OptimizerConfig defaultOptimizer();

/// One compiled training step: the model, how it is trained and where it is placed. The member
/// initializers are the one set of defaults `train`, `check` and `compile` share.
struct CompileRequest {
  std::string model;               ///< an ONNX model (.onnx) or text IR (.tir)
  std::string loss = "xent";       ///< xent, mse, or none (the model as it is)
  /// RxC cores at the top left of the system, or "die" (the whole first die, as many cores as
  /// the batch has examples). Empty: one core for data parallel, the whole first die for a grid.
  std::string slice;
  std::string grid;                ///< RxC: tensor parallel over a grid of the slice's cores; empty: data parallel
  /// With a grid: copies of it, one per die (the first `replicas` dies of the system's tour),
  /// each on its share of the batch, data parallel over them; 1: one grid.
  int replicas = 1;
  std::string precision = "mixed"; ///< mixed (BF16 matmuls, FP32 master weights) or fp32
  std::int64_t batch = 64;         ///< the size of symbolic input dimensions (the whole batch)
  /// Where each step's inputs come from: "dip" (the cores read them from an interface
  /// processor's HBM, in the step's cycles), "host" (written into SRAM before the step, in no
  /// cycle), "auto" (dip when the system has DIPs, dip.per_tile or dip.edge_sources).
  std::string feed = "auto";
  compiler::OptimizerConfig optimizer = defaultOptimizer();
  std::vector<std::string> printAfter;  ///< passes after which the IR is printed ("all")
};

/// One data-parallel core's share of the batch: `examples` of the request's batch, on one of
/// `cores` cores (the first batch % cores cores take one example more than the others).
struct BatchShare {
  std::int64_t examples = 0;  ///< 0: the whole batch, on one core
  std::int64_t cores = 1;
  std::int64_t first = 0;     ///< the share's first example in the whole batch
  /// This core's loss weight: its examples x cores / batch (1 when the batch divides evenly).
  double weight(std::int64_t batch) const { return examples ? double(examples) * double(cores) / double(batch) : 1.0; }
};
/// A model in the compiler's text IR (.tir): its shapes are fixed, it has no batch to split.
bool isTextIr(const std::string& model);

/// Core k's share when `batch` examples are split over `cores` cores.
BatchShare shareOf(std::int64_t batch, std::int64_t cores, std::int64_t k);

/// The passes that turn the imported model into its training step, by name (`--print-after`).
/// On a data-parallel core (share.cores > 1): statistics over the examples are synchronized over
/// the slice, and gradients and the loss are averaged over it, weighted by the core's share.
std::vector<compiler::PassInfo> trainingPipeline(const CompileRequest& r, const BatchShare& share = {});

/// The stages after the graph passes, in order, with what each does: on a grid its planning and
/// the local graphs, then per core the lowering's stages. `--print-after` reaches each of them
/// (for the first core), `--print-pipeline` lists them.
std::vector<std::pair<std::string, std::string>> placementStages(bool grid);

/// Reads the model and runs the training pipeline; IR printed to `out` after r.printAfter.
/// `share`: a data-parallel core's share of r.batch (its examples replace r.batch).
compiler::Graph compileModel(const CompileRequest& r, std::ostream* out, const BatchShare& share = {});

/// A request as JSON (model, loss, slice, grid, precision, batch, optimizer), and back: what a run
/// file keeps so that its step can be compiled again (tatami report). requestFromJson throws
/// RequestError naming a field that is missing or of the wrong type.
std::string requestToJson(const CompileRequest& r);
CompileRequest requestFromJson(const std::string& json);

/// Seeded inputs for a whole batch: uniform in [-1, 1); a target for xent is one-hot (class i
/// mod classes); an input that indexes a gather takes integers in range.
std::map<std::string, compiler::Tensor> seededInputs(const compiler::Graph& g, const std::string& loss, std::uint64_t seed);

/// The relative error ||got - want|| / ||want|| (the plain norm of got when want is zero).
/// Elements that are NaN on both sides agree, as do equal infinities (a mask); a NaN or an
/// infinity on one side only makes the error infinite.
double relativeError(const std::vector<double>& got, const std::vector<double>& want);

}  // namespace tatami::driver
