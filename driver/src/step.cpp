// The training step as the user asks for it: model, loss, optimizer, passes; seeded inputs; errors.
#include "tatami/driver/step.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "tatami/arch/philox.h"
#include "tatami/compiler/onnx_import.h"

namespace tatami::driver {

using namespace tatami::compiler;

std::vector<PassInfo> trainingPipeline(const CompileRequest& r, bool parallel) {
  std::vector<PassInfo> passes = {{"fold-constants", "evaluate nodes whose inputs are all constants", foldConstants}};
  if (r.loss != "none") {
    passes.push_back({"training-step", "add the loss, the backward graph and the optimizer update", [r, parallel](Graph& g) {
                        if (g.outputs.empty()) throw CompileError("the model has no output to train");
                        const int y = g.outputs.front();
                        const int target = addTarget(g, y);
                        g.outputs.clear();
                        const int l = r.loss == "xent" ? addSoftmaxCrossEntropy(g, y, target) : addMeanSquaredError(g, y, target);
                        std::function<int(Graph&, int)> combine;
                        if (parallel) combine = [](Graph& gg, int v) { return gg.op(compiler::Op::allreduce_mean, {v}); };
                        addTrainingStep(g, l, r.optimizer, combine);
                      }});
    passes.push_back({"fold-constants-2", "fold what the training step made constant", foldConstants});
  }
  passes.push_back({"dce", "remove nodes that no output depends on", eliminateDeadCode});
  return passes;
}

/// The training-step graph for `batch` rows (0: the model's own); `parallel` adds the all-reduces.
Graph compileModel(const CompileRequest& r, std::ostream* out, std::int64_t batch, bool parallel) {
  if (r.loss != "none" && r.loss != "xent" && r.loss != "mse") throw RequestError("--loss '" + r.loss + "': expected xent, mse or none");
  if (r.model.empty()) throw RequestError("no model given");
  Graph g;
  if (r.model.size() > 4 && r.model.compare(r.model.size() - 4, 4, ".tir") == 0) {
    std::ifstream f(r.model);
    if (!f) throw CompileError("cannot read IR file '" + r.model + "'");
    std::ostringstream text;
    text << f.rdbuf();
    g = parseGraph(text.str(), r.model);
  } else {
    ImportOptions io;
    io.batch = batch ? batch : r.batch;
    g = importOnnx(r.model, io);
  }
  verify(g);
  runPipeline(g, trainingPipeline(r, parallel), r.printAfter, out);
  return g;
}

std::map<std::string, Tensor> seededInputs(const Graph& g, const std::string& loss, std::uint64_t seed) {
  std::map<std::string, Tensor> feeds;
  // Inputs that index a gather (token ids) get integers in [0, extent) of the axis they index.
  std::map<int, std::int64_t> indexExtent;
  for (const Node& n : g.nodes)
    if (n.op == compiler::Op::gather && g.values[std::size_t(n.inputs[1])].kind == ValueKind::Input) {
      const Shape& ds = g.values[std::size_t(n.inputs[0])].shape;
      std::int64_t axis = n.intAttr("axis", 0);
      if (axis < 0) axis += std::int64_t(ds.size());
      indexExtent[n.inputs[1]] = ds[std::size_t(axis)];
    }
  std::uint64_t tensorId = 0;
  for (int in : g.inputs) {
    const Value& v = g.values[std::size_t(in)];
    Tensor t{v.shape, std::vector<double>(std::size_t(elementCount(v.shape)))};
    if (indexExtent.count(in)) {
      for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = double(roundingBits(seed, tensorId, i) % std::uint64_t(indexExtent.at(in)));
    } else if (v.role == Role::Target && loss == "xent" && v.shape.size() == 2) {
      for (std::int64_t i = 0; i < v.shape[0]; ++i) t.data[std::size_t(i * v.shape[1] + i % v.shape[1])] = 1.0;
    } else {
      for (std::size_t i = 0; i < t.data.size(); ++i)
        t.data[i] = double(float(-1.0 + 2.0 * double(roundingBits(seed, tensorId, i)) / 4294967296.0));
    }
    ++tensorId;
    feeds[v.name] = t;
  }
  return feeds;
}

double relativeError(const std::vector<double>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(got[i]) || std::isnan(want[i])) {
      if (std::isnan(got[i]) != std::isnan(want[i])) return std::numeric_limits<double>::infinity();
      continue;
    }
    num += (got[i] - want[i]) * (got[i] - want[i]), den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}


}  // namespace tatami::driver
