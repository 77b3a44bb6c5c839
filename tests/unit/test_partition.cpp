// Tensor-parallel placement: the layouts the planner chooses, the local graphs, and a step run on
// a grid of cores against the same step on one core.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <random>

#include "tatami/arch/assembler.h"
#include "onnx_models.h"
#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/onnx_import.h"
#include "tatami/compiler/partition.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/compiler/training.h"
#include "tatami/runtime/run.h"

using namespace tatami;
using namespace tatami::compiler;

namespace {

/// x[8,40] -> dense 40x24 -> ReLU -> dense 24x6, softmax cross-entropy, SGD with momentum.
Graph twoLayerStep() {
  std::mt19937 gen(3);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  const auto rnd = [&](std::size_t n) {
    std::vector<double> v(n);
    for (double& e : v) e = u(gen);
    return v;
  };
  Graph g;
  const int x = g.input("x", {8, 40});
  const int w1 = g.parameter("w1", {40, 24}, rnd(960));
  const int b1 = g.parameter("b1", {24}, rnd(24));
  const int w2 = g.parameter("w2", {24, 6}, rnd(144));
  const int y = g.op(compiler::Op::matmul, {g.op(compiler::Op::relu, {g.op(compiler::Op::add, {g.op(compiler::Op::matmul, {x, w1}), b1})}), w2});
  OptimizerConfig o;
  o.momentum = 0.9;
  addTrainingStep(g, addSoftmaxCrossEntropy(g, y, g.input("target", {8, 6})), o);
  runPipeline(g, standardPasses(), {}, nullptr);
  return g;
}

}  // namespace

TEST_CASE("the grid plan splits features over the rows, examples over the columns, weights over both axes") {
  const Graph g = twoLayerStep();
  const GridPlan plan = planGrid(g, 2, 3);
  const auto split = [&](const char* name) { return plan.split[std::size_t(g.find(name))]; };
  CHECK(split("x") == std::vector<int>{1, 0});
  CHECK(split("w1") == std::vector<int>{0, 1});
  CHECK(split("b1") == std::vector<int>{1});
  CHECK(split("w2") == std::vector<int>{1, 0});
  CHECK(split("w1.m") == std::vector<int>{0, 1});
  CHECK(split("w2.next") == std::vector<int>{1, 0});
  CHECK(split("target") == std::vector<int>{1, 0});
  // Blocks: 40 over 2 rows = 20; 24 over 3 columns = 8; 6 classes over 2 rows = 3.
  const Block b = blockOf(g, plan, g.find("w1"), 1, 2);
  CHECK(b.begin == std::vector<std::int64_t>{20, 16});
  CHECK(b.local == std::vector<std::int64_t>{20, 8});
  // Each layer's product is summed by a reduce-scatter of its examples: the hidden layer ends
  // split (examples over the grid rows, features over the columns), the logits the other way.
  for (const Node& n : g.nodes)
    if (n.op == compiler::Op::matmul && n.inputs[1] == g.find("w1")) CHECK(split(g.values[std::size_t(n.outputs[0])].name.c_str()) == std::vector<int>{0, 1});
  CHECK(split("w2.next") == std::vector<int>{1, 0});
  const Graph local = localGraph(g, plan, 1, 2);
  CHECK(local.values[std::size_t(local.find("w2"))].shape == Shape{8, 3});
  CHECK(local.values[std::size_t(local.find("x"))].shape == Shape{3, 20});
  std::map<std::string, int> collectives;
  for (const Node& n : local.nodes) ++collectives[opName(n.op)];
  // Reduce-scatters: both layers' products and the hidden layer's gradient. Gathers: the inputs of
  // both layers forward, the logits' gradient (shared by the hidden gradient and w2's gradient),
  // and again, for the weight gradients, the hidden activations, the hidden gradient and x.
  CHECK(collectives["reducescatter"] == 3);
  CHECK(collectives["allgather"] == 6);
}

TEST_CASE("blocks that do not divide evenly are padded with zeros and put back without them") {
  Graph g;
  const int x = g.input("x", {2, 5});
  const int w = g.parameter("w", {5, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  g.markOutput(g.op(compiler::Op::matmul, {x, w}));
  const GridPlan plan = planGrid(g, 2, 2);
  const Block last = blockOf(g, plan, w, 1, 1);  // rows 3..4 of 5 (block 3, one padded), column 2 (block 2)
  CHECK(last.begin == std::vector<std::int64_t>{3, 2});
  CHECK(last.real == std::vector<std::int64_t>{2, 1});
  CHECK(last.local == std::vector<std::int64_t>{3, 2});
  const std::vector<double> values = sliceBlock(last, {5, 3}, g.values[std::size_t(w)].data);
  CHECK(values == std::vector<double>{12, 0, 15, 0, 0, 0});
  std::vector<double> full(15, -1.0);
  placeBlock(last, {5, 3}, values, full);
  CHECK(full[11] == 12);
  CHECK(full[14] == 15);
  CHECK(full[13] == -1);
}

namespace {

/// Runs training step `g` on a rows x cols grid of the D1 die's first cores (FP32) from seeded
/// inputs (`target` one-hot) and returns the worst relative error of its outputs, put back
/// together from the cores' blocks, against the oracle (checked per output below `tolerance`).
double gridAgainstOracle(const Graph& g, int rows, int cols, double tolerance) {
  const ArchConfig config;
  std::mt19937 gen(9);
  std::uniform_real_distribution<double> u(-1, 1);
  std::map<std::string, Tensor> feeds;
  for (int in : g.inputs) {
    const Value& v = g.values[std::size_t(in)];
    Tensor t{v.shape, std::vector<double>(std::size_t(elementCount(v.shape)))};
    const std::int64_t classes = v.shape.back();
    for (std::size_t i = 0; i < t.data.size(); ++i)
      t.data[i] = v.name == "target" ? double(std::int64_t(i) % classes == (std::int64_t(i) / classes) % classes) : double(float(u(gen)));
    feeds[v.name] = t;
  }
  const std::vector<int> cores = gridCores(config, int(config.die.rows), int(config.die.cols), rows, cols);
  const GridJob job = placeOnGrid(g, config, cores, rows, cols, "fp32");
  std::vector<Program> programs;
  for (const auto& lp : job.lowered) programs.push_back(lp.program);
  std::vector<runtime::CoreProgram> all;
  for (std::size_t k = 0; k < cores.size(); ++k) {
    all.emplace_back(cores[k], &programs[k]);
    for (int in : g.inputs) {
      const Value& v = g.values[std::size_t(in)];
      const std::vector<double> block = sliceBlock(blockOf(g, job.plan, in, int(k) / cols, int(k) % cols), v.shape, feeds[v.name].data);
      runtime::SramImage img;
      img.name = v.name, img.addr = job.lowered[k].layout.at(v.name).addr, img.shape = {block.size()};
      std::vector<float> f(block.begin(), block.end());
      img.bytes.resize(f.size() * 4);
      std::memcpy(img.bytes.data(), f.data(), img.bytes.size());
      all.back().inputs.push_back(img);
    }
  }
  const runtime::RunResult run = runtime::runPrograms(config, all, {});
  REQUIRE(run.error.empty());
  EvalOptions fp32;
  fp32.roundToFloat = true;
  const auto oracle = evaluate(g, feeds, fp32);
  double worst = 0;
  for (int o : g.outputs) {
    const Value& v = g.values[std::size_t(o)];
    std::vector<double> got(oracle[std::size_t(o)].data.size(), 0.0);
    for (std::size_t k = 0; k < cores.size(); ++k) {
      const Block b = blockOf(g, job.plan, o, int(k) / cols, int(k) % cols);
      for (const auto& img : run.outputs)
        if (img.name == "c" + std::to_string(cores[k]) + "." + v.name) {
          std::vector<float> f(std::size_t(elementCount(b.local)));
          std::memcpy(f.data(), img.bytes.data(), f.size() * 4);
          placeBlock(b, v.shape, std::vector<double>(f.begin(), f.end()), got);
        }
    }
    double num = 0, den = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double want = oracle[std::size_t(o)].data[i];
      num += (got[i] - want) * (got[i] - want), den += want * want;
    }
    const double err = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    INFO(v.name);
    CHECK(err < tolerance);
    worst = std::max(worst, err);
  }
  return worst;
}

/// Weights uniform in [-0.3, 0.3) from a generator seeded `seed`: rnd(n) gives the next n.
std::function<std::vector<double>(std::int64_t)> weightsFrom(unsigned seed) {
  auto gen = std::make_shared<std::mt19937>(seed);
  return [gen](std::int64_t n) {
    std::uniform_real_distribution<double> u(-0.3, 0.3);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (double& e : v) e = u(*gen);
    return v;
  };
}

/// x[4,3,8,8] -> conv 3x3 (F1 filters, pad 1) + bias -> ReLU -> max pool 2 -> conv 3x3 (16) ->
/// ReLU -> flatten -> dense 256x5, softmax cross-entropy, SGD with momentum. With `strided`, the
/// second convolution has stride 2 and an average pool 2 x 2 follows it (dense 16x5).
Graph cnnStep(std::int64_t f1, bool strided = false) {
  const auto rnd = weightsFrom(4);
  Graph g;
  const std::map<std::string, Attribute> conv = {{"pads", std::vector<std::int64_t>{1, 1, 1, 1}},
                                                 {"strides", std::vector<std::int64_t>{1, 1}},
                                                 {"dilations", std::vector<std::int64_t>{1, 1}},
                                                 {"group", std::int64_t(1)}};
  const int x = g.input("x", {4, 3, 8, 8});
  const int w1 = g.parameter("w1", {f1, 3, 3, 3}, rnd(f1 * 27));
  const int b1 = g.parameter("b1", {f1}, rnd(f1));
  const int c1 = g.op(compiler::Op::add, {g.op(compiler::Op::conv2d, {x, w1}, conv, "conv1"), g.op(compiler::Op::reshape, {b1}, {{"shape", Shape{1, f1, 1, 1}}})});
  const int p1 = g.op(compiler::Op::max_pool2d, {g.op(compiler::Op::relu, {c1})},
                      {{"kernel", std::vector<std::int64_t>{2, 2}}, {"strides", std::vector<std::int64_t>{2, 2}}}, "pool1");
  const int w2 = g.parameter("w2", {16, f1, 3, 3}, rnd(16 * f1 * 9));
  std::map<std::string, Attribute> conv2 = conv;
  if (strided) conv2["strides"] = std::vector<std::int64_t>{2, 2};
  int r2 = g.op(compiler::Op::relu, {g.op(compiler::Op::conv2d, {p1, w2}, conv2, "conv2")});  // [4,16,4,4], or [4,16,2,2] strided
  if (strided)
    r2 = g.op(compiler::Op::avg_pool2d, {r2}, {{"kernel", std::vector<std::int64_t>{2, 2}}, {"strides", std::vector<std::int64_t>{2, 2}}}, "pool2");
  const std::int64_t features = strided ? 16 : 256;
  const int w3 = g.parameter("w3", {features, 5}, rnd(features * 5));
  const int y = g.op(compiler::Op::matmul, {g.op(compiler::Op::reshape, {r2}, {{"shape", Shape{4, features}}}, "flat"), w3});
  OptimizerConfig o;
  o.momentum = 0.9;
  addTrainingStep(g, addSoftmaxCrossEntropy(g, y, g.input("target", {4, 5})), o);
  runPipeline(g, standardPasses(), {}, nullptr);
  return g;
}

}  // namespace

TEST_CASE("a training step on a 2x3 grid gives the one-core step's results (FP32)") {
  const double err = gridAgainstOracle(twoLayerStep(), 2, 3, 1e-6);
  MESSAGE("two-layer MLP on 2x3: worst relative error " << err);
}

TEST_CASE("convolutions split over a grid: examples over the columns, channels alternating over the rows") {
  const Graph g = cnnStep(32);
  const GridPlan plan = planGrid(g, 2, 2);
  const auto split = [&](const char* name) { return plan.split[std::size_t(g.find(name))]; };
  CHECK(split("x") == std::vector<int>{1, -1, -1, -1});
  // The first convolution splits its 32 filters over the rows (16 per core): no communication.
  CHECK(split("w1") == std::vector<int>{0, -1, -1, -1});
  CHECK(split("conv1") == std::vector<int>{1, 0, -1, -1});
  CHECK(split("pool1") == std::vector<int>{1, 0, -1, -1});
  // The second contracts those channels: its weight takes their split, its partial sums are
  // all-reduced over the rows, and its result's channels are whole.
  CHECK(split("w2") == std::vector<int>{-1, 0, -1, -1});
  CHECK(split("conv2") == std::vector<int>{1, -1, -1, -1});
  CHECK(split("flat") == std::vector<int>{1, -1});
  const Graph local = localGraph(g, plan, 1, 0);
  CHECK(local.values[std::size_t(local.find("w1"))].shape == Shape{16, 3, 3, 3});
  CHECK(local.values[std::size_t(local.find("x"))].shape == Shape{2, 3, 8, 8});
  const Node& conv2 = local.nodes[std::size_t(local.values[std::size_t(local.find("conv2"))].producer)];
  CHECK(conv2.op == compiler::Op::allreduce);
  CHECK(conv2.intAttr("axis", -1) == 0);
  const double err = gridAgainstOracle(g, 2, 2, 1e-6);
  MESSAGE("CNN (32 filters) on 2x2: worst relative error " << err);
  // Too few filters to give each core a tile: the first convolution stays whole on every row.
  CHECK(planGrid(cnnStep(16), 2, 2).split[std::size_t(g.find("w1"))] == std::vector<int>{-1, -1, -1, -1});
}

TEST_CASE("a residual 1x1 convolution with its input and output channels split over one axis gathers its filters for the weight gradient") {
  const auto rnd = weightsFrom(5);
  Graph g;
  const std::map<std::string, Attribute> same = {{"pads", std::vector<std::int64_t>{1, 1, 1, 1}}};
  const int x = g.input("x", {4, 3, 8, 8});
  const int r1 = g.op(compiler::Op::relu, {g.op(compiler::Op::conv2d, {x, g.parameter("w1", {32, 3, 3, 3}, rnd(32 * 27))}, same, "conv1")});
  // The shortcut contracts r1's split channels; the add brings its whole result to r1's split.
  const int ws = g.parameter("ws", {32, 32, 1, 1}, rnd(32 * 32));
  const int res = g.op(compiler::Op::add, {g.op(compiler::Op::conv2d, {r1, ws}, {}, "shortcut"), r1}, {}, "residual");
  const int pooled = g.op(compiler::Op::avg_pool2d, {res}, {{"kernel", std::vector<std::int64_t>{8, 8}}}, "pool");
  const int y = g.op(compiler::Op::matmul, {g.op(compiler::Op::reshape, {pooled}, {{"shape", Shape{4, 32}}}, "flat"),
                                            g.parameter("w2", {32, 5}, rnd(32 * 5))});
  OptimizerConfig o;
  addTrainingStep(g, addSoftmaxCrossEntropy(g, y, g.input("target", {4, 5})), o);
  const GridPlan plan = planGrid(g, 2, 2);
  const auto split = [&](int v) { return plan.split[std::size_t(v)]; };
  CHECK(split(ws) == std::vector<int>{-1, 0, -1, -1});
  int gradient = -1;
  for (const Node& n : g.nodes)
    if (n.op == compiler::Op::conv2d_grad_weight && g.values[std::size_t(n.outputs[0])].shape == Shape{32, 32, 1, 1}) gradient = n.outputs[0];
  REQUIRE(gradient >= 0);
  CHECK(split(gradient) == std::vector<int>{-1, 0, -1, -1});  // the weight's layout, not {0, 0}
  const double err = gridAgainstOracle(g, 2, 2, 1e-6);
  MESSAGE("residual 1x1 shortcut on 2x2: worst relative error " << err);
}

TEST_CASE("a strided convolution and average pooling on a grid, channels that do not split evenly are refused") {
  const Graph g = cnnStep(32, true);
  CHECK(planGrid(g, 2, 2).split[std::size_t(g.find("pool2"))] == std::vector<int>{1, -1, -1, -1});
  const double err = gridAgainstOracle(g, 2, 2, 1e-6);
  MESSAGE("CNN with a strided convolution and average pooling on 2x2: worst relative error " << err);
  // 48 filters over 3 grid rows split into 16 each; 50 would leave a padded block.
  CHECK(planGrid(cnnStep(48), 3, 2).split[std::size_t(g.find("w1"))] == std::vector<int>{0, -1, -1, -1});
  const Graph uneven = cnnStep(50);
  CHECK_THROWS_WITH_AS(localGraph(uneven, planGrid(uneven, 3, 2), 0, 0),
                       "node 'conv1' (conv2d): cannot be split over the grid: its filters (50 of 'w1') do not split evenly over the grid's 3 rows",
                       CompileError);
}

TEST_CASE("a CNN with batch norm (as PyTorch exports it) on a 2x2 grid gives the oracle's step (FP32)") {
  const Graph g = tatami::testing::cnnTrainingStep();
  // The conv bias's gradient cancels exactly under batch norm (see test_lowering): 2e-5.
  const double err = gridAgainstOracle(g, 2, 2, 2e-5);
  MESSAGE("CNN with batch norm on 2x2: worst relative error " << err);
}

TEST_CASE("padding that would enter a sum or a maximum is masked, what cannot be split is refused, naming the node") {
  // y = x w with y's 5 columns split 3 + 2 over two grid columns: exp puts 1 in the padding,
  // which the sum across those columns must not count, nor the maximum its -inf.
  Graph g;
  const int x = g.input("x", {8, 6});
  const int w = g.parameter("w", {6, 5}, std::vector<double>(30, 0.1));
  const int e = g.op(compiler::Op::exp, {g.op(compiler::Op::matmul, {x, w})}, {}, "e");
  g.markOutput(g.op(compiler::Op::reduce_sum, {e}, {{"axes", std::vector<std::int64_t>{1}}}, "total"));
  g.markOutput(g.op(compiler::Op::reduce_max, {g.op(compiler::Op::log, {e})}, {{"axes", std::vector<std::int64_t>{1}}}, "largest"));
  const Graph local = localGraph(g, planGrid(g, 2, 2), 0, 1);
  int masks = 0;
  for (const Node& n : local.nodes) masks += n.op == compiler::Op::where;
  CHECK(masks == 2);
  const double err = gridAgainstOracle(g, 2, 2, 1e-6);
  MESSAGE("sum and maximum across padded columns on 2x2: worst relative error " << err);
  // A flatten of a tensor split on both dimensions would mix the blocks: refused.
  Graph flat;
  const int fx = flat.input("x", {8, 6});
  const int fy = flat.op(compiler::Op::matmul, {fx, flat.parameter("w", {6, 4}, std::vector<double>(24, 0.1))});
  flat.markOutput(flat.op(compiler::Op::reshape, {fy}, {{"shape", Shape{32}}}, "flat"));
  CHECK_THROWS_WITH_AS(localGraph(flat, planGrid(flat, 2, 2), 0, 0), "node 'flat' (reshape): cannot be split over the grid: no split rule for this op",
                       CompileError);
  CHECK_THROWS_WITH_AS(planGrid(g, 0, 2), "a tensor-parallel grid needs at least one row and one column", CompileError);
}

TEST_CASE("softmax over classes that do not split evenly masks the padding") {
  const Graph g = twoLayerStep();  // 6 classes over 4 grid rows: blocks of 2, the last all padding
  const Graph local = localGraph(g, planGrid(g, 4, 1), 3, 0);
  bool masked = false;
  for (const Value& v : local.values)
    if (v.kind == ValueKind::Constant && v.name.find(".mask") != std::string::npos) {
      masked = true;
      CHECK(v.data == std::vector<double>{-1e30, -1e30});
    }
  CHECK(masked);
}
