// The training step as the user asks for it: model, loss, optimizer, passes; seeded inputs; errors.
#include "tatami/driver/step.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "tatami/arch/philox.h"
#include "tatami/compiler/onnx_import.h"
#include "tatami/compiler/passes.h"

namespace tatami::driver {

using namespace tatami::compiler;

OptimizerConfig defaultOptimizer() {
  OptimizerConfig o;
  o.learningRate = 0.1;
  return o;
}

BatchShare shareOf(std::int64_t batch, std::int64_t cores, std::int64_t k) {
  const std::int64_t base = batch / cores, extra = batch % cores;
  return {base + (k < extra ? 1 : 0), cores, k * base + std::min(k, extra)};
}

bool isTextIr(const std::string& model) { return model.size() > 4 && model.compare(model.size() - 4, 4, ".tir") == 0; }

namespace {

/// The values of the model whose leading dimension follows the batch (the examples' rows): those
/// whose first dimension differs between the model imported for `share` examples and for the
/// whole batch.
std::set<std::string> exampleRows(const CompileRequest& r, const Graph& shard) {
  std::set<std::string> rows;
  if (isTextIr(r.model)) return rows;
  ImportOptions io;
  io.batch = r.batch;
  const Graph whole = importOnnx(r.model, io);
  for (const Value& v : shard.values) {
    const int w = whole.find(v.name);
    if (w < 0 || v.shape.empty()) continue;
    const Shape& ws = whole.values[std::size_t(w)].shape;
    if (ws.size() == v.shape.size() && ws[0] != v.shape[0]) rows.insert(v.name);
  }
  return rows;
}

}  // namespace

std::vector<PassInfo> trainingPipeline(const CompileRequest& r, const BatchShare& share) {
  const bool parallel = share.cores > 1;
  const double weight = share.weight(r.batch);
  std::vector<PassInfo> passes = {passByName("fold-constants")};
  if (parallel) {
    PassInfo sync{"sync-batch-statistics",
                  "data parallel: reductions over the examples (batch normalization's statistics) over the whole batch of the slice", {}};
    sync.run = [r, share, weight](Graph& g) { syncBatchStatistics(g, exampleRows(r, g), share.cores, weight); };
    passes.push_back(sync);
  }
  if (r.loss != "none") {
    PassOptions step = {{"loss", r.loss}, {"optimizer", r.optimizer.kind}, {"parallel", parallel ? "1" : "0"}};
    std::ostringstream num;
    num.precision(17);
    const auto put = [&](const char* key, double v) {
      num.str("");
      num << v;
      step[key] = num.str();
    };
    put("lr", r.optimizer.learningRate), put("momentum", r.optimizer.momentum), put("weight_decay", r.optimizer.weightDecay);
    put("weight", weight);
    PassInfo training = passByName("training-step", step);
    // On a grid's replicas each gradient is combined in its own layout: no buckets.
    training.run = [r, parallel, weight](Graph& g) { buildTrainingStep(g, r.loss, r.optimizer, parallel, weight, r.grid.empty()); };  // the exact doubles
    passes.push_back(training);
    PassInfo again = passByName("fold-constants");
    again.name = "fold-constants-2", again.description = "fold what the training step made constant";
    passes.push_back(again);
  }
  passes.push_back(passByName("dce"));
  return passes;
}

std::vector<std::pair<std::string, std::string>> placementStages(bool grid) {
  std::vector<std::pair<std::string, std::string>> s;
  if (grid) {
    s.push_back({"plan-grid", "choose the grid axis that splits each dimension of every tensor (partition.h)"});
    s.push_back({"local-graph", "each grid position's graph: its blocks, and the collectives where a split is contracted"});
  }
  s.push_back({"decompose-spatial", "convolutions, pooling, padding, batched matmuls and N-D transposes as gathers and 2D matmuls"});
  s.push_back({"fuse-transposes", "2D transposes read transposed by the matrix unit instead of made"});
  s.push_back({"hbm-residency", "with too little SRAM: parameters, optimizer state and updates homed in HBM and streamed; with less still, the activations kept for the backward pass offloaded there too"});
  s.push_back({"plan-memory", "SRAM address and bytes of every input, parameter and output (intermediates are placed and freed by liveness, in place where they can), and the peak"});
  s.push_back({"codegen", "the tile program of one core (.tasm), with the cost model's estimate per op"});
  return s;
}

/// The training-step graph for a core's share of the batch (none: the whole batch on one core).
Graph compileModel(const CompileRequest& r, std::ostream* out, const BatchShare& share) {
  if (r.loss != "none" && r.loss != "xent" && r.loss != "mse") throw RequestError("--loss '" + r.loss + "': expected xent, mse or none");
  if (r.model.empty()) throw RequestError("no model given");
  Graph g;
  if (isTextIr(r.model)) {
    std::ifstream f(r.model);
    if (!f) throw CompileError("cannot read IR file '" + r.model + "'");
    std::ostringstream text;
    text << f.rdbuf();
    g = parseGraph(text.str(), r.model);
  } else {
    ImportOptions io;
    io.batch = share.examples ? share.examples : r.batch;
    io.firstExample = share.first;
    g = importOnnx(r.model, io);
  }
  verify(g);
  runPipeline(g, trainingPipeline(r, share), r.printAfter, out);
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
    if (std::isinf(got[i]) || std::isinf(want[i])) {  // the same infinity is exact (a mask); any other pair is not
      if (got[i] != want[i]) return std::numeric_limits<double>::infinity();
      continue;
    }
    num += (got[i] - want[i]) * (got[i] - want[i]), den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}


std::string requestToJson(const CompileRequest& r) {
  const compiler::OptimizerConfig& o = r.optimizer;
  return nlohmann::ordered_json{{"model", r.model},
                                {"loss", r.loss},
                                {"slice", r.slice},
                                {"grid", r.grid},
                                {"replicas", r.replicas},
                                {"precision", r.precision},
                                {"batch", r.batch},
                                {"feed", r.feed},
                                {"optimizer",
                                 {{"kind", o.kind},
                                  {"learning_rate", o.learningRate},
                                  {"momentum", o.momentum},
                                  {"weight_decay", o.weightDecay},
                                  {"beta1", o.beta1},
                                  {"beta2", o.beta2},
                                  {"epsilon", o.epsilon}}}}
      .dump();
}

CompileRequest requestFromJson(const std::string& json) {
  CompileRequest r;
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    j.at("model").get_to(r.model);
    j.at("loss").get_to(r.loss);
    j.at("slice").get_to(r.slice);
    j.at("grid").get_to(r.grid);
    r.replicas = j.value("replicas", 1);
    j.at("precision").get_to(r.precision);
    j.at("batch").get_to(r.batch);
    r.feed = j.value("feed", std::string("host"));  // a request saved before steps read their inputs from HBM
    const nlohmann::json& o = j.at("optimizer");
    o.at("kind").get_to(r.optimizer.kind);
    o.at("learning_rate").get_to(r.optimizer.learningRate);
    o.at("momentum").get_to(r.optimizer.momentum);
    o.at("weight_decay").get_to(r.optimizer.weightDecay);
    o.at("beta1").get_to(r.optimizer.beta1);
    o.at("beta2").get_to(r.optimizer.beta2);
    o.at("epsilon").get_to(r.optimizer.epsilon);
  } catch (const nlohmann::json::exception& e) {
    throw RequestError(std::string("the step's request is not valid: ") + e.what());
  }
  return r;
}

}  // namespace tatami::driver
