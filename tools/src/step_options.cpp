// The step options shared by train, check and compile.
#include "step_options.h"

#include <cmath>
#include <sstream>

namespace tatami::cli {

namespace {

std::string shown(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

void addStepOptions(po::options_description& desc, driver::CompileRequest& r) {
  const driver::CompileRequest d;  // the defaults
  desc.add_options()
      ("model", po::value<std::string>(&r.model), "an ONNX model (.onnx) or text IR (.tir)")
      ("batch", po::value<std::int64_t>(&r.batch)->default_value(d.batch),
       "examples per step: the size of the model's symbolic batch dimension (split over a slice's cores)")
      ("loss", po::value<std::string>(&r.loss)->default_value(d.loss),
       "the loss on the model's first output: xent (softmax cross-entropy), mse (mean squared error against the "
       "target), or none (compile and check only: the model as it is, no training step)")
      ("optimizer", po::value<std::string>(&r.optimizer.kind)->default_value(d.optimizer.kind), "sgd or adamw")
      ("lr", po::value<double>(&r.optimizer.learningRate)->default_value(d.optimizer.learningRate, shown(d.optimizer.learningRate)),
       "learning rate")
      ("momentum", po::value<double>(&r.optimizer.momentum)->default_value(d.optimizer.momentum), "SGD momentum")
      ("weight-decay", po::value<double>(&r.optimizer.weightDecay)->default_value(d.optimizer.weightDecay),
       "weight decay (L2 for SGD, decoupled for AdamW)")
      ("precision", po::value<std::string>(&r.precision)->default_value(d.precision),
       "mixed: matmuls on the matrix unit with BF16 operands, FP32 accumulation and FP32 master weights; fp32: FP32 throughout")
      ("slice", po::value<std::string>(&r.slice)->value_name("RxC"),
       "the RxC rectangle of cores (top left of the system) the step runs on, data parallel: each core takes "
       "batch/cores examples and the gradients are all-reduced over a ring; 'die': as many of the first die's active "
       "cores (in ring order) as divide --batch. Default: one core (with --grid: the whole first die)")
      ("feed", po::value<std::string>(&r.feed)->default_value(d.feed),
       "where each step's inputs (the batch and the target) come from: dip (the cores read them from an interface "
       "processor's HBM, counted in the step's cycles: dip.per_tile on a training tile, dip.edge_sources on a smaller "
       "system such as the D1 preset), host (written into SRAM before the step, in no cycle), or auto (dip when the "
       "system has an interface processor)")
      ("grid", po::value<std::string>(&r.grid)->value_name("RxC"),
       "tensor parallel instead (docs/compiler.md): the whole batch in one step, its examples, features and channels "
       "split over an RxC grid of the slice's active cores (row-major)")
      ("replicas", po::value<int>(&r.replicas)->default_value(d.replicas)->value_name("K"),
       "with --grid: K copies of the grid, one per die (the same cores of each of the first K dies), each on batch/K "
       "examples; their gradients are averaged over the dies (data parallel over dies, tensor parallel within each)");
}

void checkStepOptions(const driver::CompileRequest& r) {
  if (r.loss != "xent" && r.loss != "mse" && r.loss != "none") throw UsageError("--loss '" + r.loss + "': expected xent, mse or none");
  if (r.optimizer.kind != "sgd" && r.optimizer.kind != "adamw") throw UsageError("--optimizer '" + r.optimizer.kind + "': expected sgd or adamw");
  if (r.precision != "mixed" && r.precision != "fp32") throw UsageError("--precision '" + r.precision + "': expected mixed or fp32");
  if (r.feed != "dip" && r.feed != "host" && r.feed != "auto") throw UsageError("--feed '" + r.feed + "': expected dip, host or auto");
  if (r.replicas < 1) throw UsageError("--replicas " + std::to_string(r.replicas) + ": expected 1 or more");
  if (r.replicas > 1 && r.grid.empty()) throw UsageError("--replicas " + std::to_string(r.replicas) + " needs --grid (copies of a grid, one per die)");
  const auto finite = [](const char* flag, double v, bool positive) {
    if (!std::isfinite(v) || v < 0 || (positive && v == 0))
      throw UsageError(std::string(flag) + " " + std::to_string(v) + ": expected a finite " + (positive ? "positive" : "non-negative") + " number");
  };
  finite("--lr", r.optimizer.learningRate, true);
  finite("--momentum", r.optimizer.momentum, false);
  finite("--weight-decay", r.optimizer.weightDecay, false);
}

bool setStepKey(driver::CompileRequest& r, const std::string& key, const std::string& value, const std::string& where) {
  try {
    if (key == "model") r.model = value;
    else if (key == "batch") r.batch = std::stoll(value);
    else if (key == "loss") r.loss = value;
    else if (key == "optimizer") r.optimizer.kind = value;
    else if (key == "lr") r.optimizer.learningRate = std::stod(value);
    else if (key == "momentum") r.optimizer.momentum = std::stod(value);
    else if (key == "weight_decay") r.optimizer.weightDecay = std::stod(value);
    else if (key == "precision") r.precision = value;
    else if (key == "slice") r.slice = value;
    else if (key == "grid") r.grid = value;
    else if (key == "replicas") r.replicas = std::stoi(value);
    else if (key == "feed") r.feed = value;
    else return false;
  } catch (const std::logic_error&) {
    throw InputError(where + "'" + key + "' = '" + value + "' is not a number");
  }
  return true;
}

}  // namespace tatami::cli
