// A model trained tensor parallel on a grid of one die's cores: the step's cycles, its matrix
// utilization and the loss over a few steps on one fixed batch.
//
//   bench_grid mlp [WIDTH] [LAYERS] [BATCH] [ROWSxCOLS] [STEPS] [timing-only | check]
//   bench_grid cnn [CHANNELS] [LAYERS] [BATCH] [ROWSxCOLS] [STEPS] [timing-only | check]
//
// `check` also evaluates the first step on the host oracle (FP32 rounding per op) and prints the
// largest relative error of any output, gradient-updated weight or momentum.
//
// The models, trained with softmax cross-entropy and SGD with momentum 0.9 (learning rate 0.05),
// mixed precision; weights and momentum are fed to every step from the previous step's outputs:
//   mlp: LAYERS dense layers of WIDTH x WIDTH with ReLU between, WIDTH classes;
//   cnn: 16 x 16 RGB images, LAYERS convolutions of CHANNELS 3 x 3 filters (padding 1) with bias,
//        ReLU and 2 x 2 max pooling, then a dense layer to 10 classes.
// A 1 x C grid is data parallel over C cores; more rows split features or channels too.
//
// Environment: GRID_BENCH_FP32=1 lowers in FP32 instead; GRID_BENCH_TRACE=1 prints the first
// core's measured cycles by op kind beside the cost model's; GRID_BENCH_DUMP=1 prints the grid
// plan (every tensor's split) when the step does not compile. The whole-die figure in
// docs/compiler.md:
//   bench_grid mlp 2048 4 256 16x19 3
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>

#include "tatami/arch/assembler.h"
#include "tatami/compiler/flops.h"
#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/partition.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/compiler/training.h"
#include "tatami/runtime/run.h"

using namespace tatami;
using namespace tatami::compiler;

namespace {

runtime::SramImage image(const std::string& name, std::uint64_t addr, const std::vector<double>& v) {
  runtime::SramImage img;
  img.name = name, img.addr = addr, img.shape = {v.size()};
  std::vector<float> f(v.begin(), v.end());
  img.bytes.resize(f.size() * 4);
  std::memcpy(img.bytes.data(), f.data(), img.bytes.size());
  return img;
}

/// LAYERS dense layers of WIDTH with ReLU between; softmax cross-entropy over WIDTH classes.
Graph mlp(std::int64_t width, std::int64_t layers, std::int64_t batch, std::mt19937& gen) {
  Graph g;
  g.name = "wide_mlp";
  int h = g.input("x", {batch, width});
  const double bound = std::sqrt(6.0 / double(width));
  std::uniform_real_distribution<double> u(-bound, bound);
  for (std::int64_t l = 0; l < layers; ++l) {
    std::vector<double> w(static_cast<std::size_t>(width * width));
    for (double& v : w) v = u(gen);
    const int wv = g.parameter("w" + std::to_string(l + 1), {width, width}, std::move(w));
    const int bv = g.parameter("b" + std::to_string(l + 1), {width}, std::vector<double>(static_cast<std::size_t>(width), 0.0));
    h = g.op(compiler::Op::add, {g.op(compiler::Op::matmul, {h, wv}), bv});
    if (l + 1 < layers) h = g.op(compiler::Op::relu, {h});
  }
  OptimizerConfig opt;
  opt.learningRate = 0.05, opt.momentum = 0.9;
  addTrainingStep(g, addSoftmaxCrossEntropy(g, h, g.input("target", {batch, width})), opt);
  return g;
}

/// 16 x 16 x 3 images; LAYERS of conv 3 x 3 (CHANNELS filters, padding 1) + bias, ReLU, max pool
/// 2 x 2; a dense layer to 10 classes.
Graph cnn(std::int64_t channels, std::int64_t layers, std::int64_t batch, std::mt19937& gen) {
  Graph g;
  g.name = "cnn";
  int h = g.input("x", {batch, 3, 16, 16});
  std::int64_t in = 3, side = 16;
  const std::map<std::string, Attribute> conv = {{"pads", std::vector<std::int64_t>{1, 1, 1, 1}},
                                                 {"strides", std::vector<std::int64_t>{1, 1}},
                                                 {"dilations", std::vector<std::int64_t>{1, 1}},
                                                 {"group", std::int64_t(1)}};
  const std::map<std::string, Attribute> pool = {{"kernel", std::vector<std::int64_t>{2, 2}}, {"strides", std::vector<std::int64_t>{2, 2}}};
  for (std::int64_t l = 0; l < layers; ++l) {
    std::uniform_real_distribution<double> u(-std::sqrt(6.0 / double(in * 9)), std::sqrt(6.0 / double(in * 9)));
    std::vector<double> w(static_cast<std::size_t>(channels * in * 9));
    for (double& v : w) v = u(gen);
    const std::string k = std::to_string(l + 1);
    const int wv = g.parameter("conv" + k + ".w", {channels, in, 3, 3}, std::move(w));
    const int bv = g.parameter("conv" + k + ".b", {channels}, std::vector<double>(static_cast<std::size_t>(channels), 0.0));
    h = g.op(compiler::Op::add, {g.op(compiler::Op::conv2d, {h, wv}, conv), g.op(compiler::Op::reshape, {bv}, {{"shape", Shape{1, channels, 1, 1}}})});
    h = g.op(compiler::Op::max_pool2d, {g.op(compiler::Op::relu, {h})}, pool);
    in = channels, side /= 2;
  }
  const std::int64_t features = channels * side * side;
  std::uniform_real_distribution<double> u(-std::sqrt(6.0 / double(features)), std::sqrt(6.0 / double(features)));
  std::vector<double> w(static_cast<std::size_t>(features * 10));
  for (double& v : w) v = u(gen);
  const int fc = g.parameter("fc.w", {features, 10}, std::move(w));
  h = g.op(compiler::Op::matmul, {g.op(compiler::Op::reshape, {h}, {{"shape", Shape{batch, features}}}), fc});
  OptimizerConfig opt;
  opt.learningRate = 0.05, opt.momentum = 0.9;
  addTrainingStep(g, addSoftmaxCrossEntropy(g, h, g.input("target", {batch, 10})), opt);
  return g;
}


}  // namespace

int sc_main(int argc, char** argv) {
  const std::string model = argc > 1 ? argv[1] : "mlp";
  if (model != "mlp" && model != "cnn") {
    std::fprintf(stderr, "usage: bench_grid mlp|cnn [WIDTH|CHANNELS] [LAYERS] [BATCH] [ROWSxCOLS] [STEPS] [timing-only|check]\n");
    return 2;
  }
  const bool isCnn = model == "cnn";
  const std::int64_t width = argc > 2 ? std::stoll(argv[2]) : (isCnn ? 64 : 2048), layers = argc > 3 ? std::stoll(argv[3]) : (isCnn ? 2 : 4),
                     batch = argc > 4 ? std::stoll(argv[4]) : (isCnn ? 32 : 256);
  const std::string grid = argc > 5 ? argv[5] : (isCnn ? "2x16" : "16x19");
  const int steps = argc > 6 ? std::stoi(argv[6]) : 1;
  const std::string mode = argc > 7 ? argv[7] : "";
  const bool timingOnly = mode == "timing-only", check = mode == "check";
  const int rows = std::stoi(grid.substr(0, grid.find('x'))), cols = std::stoi(grid.substr(grid.find('x') + 1));

  std::mt19937 gen(7);
  Graph g = isCnn ? cnn(width, layers, batch, gen) : mlp(width, layers, batch, gen);
  runPipeline(g, standardPasses(), {}, nullptr);
  const std::int64_t classes = g.values[std::size_t(g.find("target"))].shape[1];

  const ArchConfig config;
  std::vector<int> cores;
  try {
    cores = gridCores(config, int(config.die.rows), int(config.die.cols), rows, cols);
  } catch (const CompileError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  GridJob job;
  try {
    job = placeOnGrid(g, config, cores, rows, cols, std::getenv("GRID_BENCH_FP32") ? "fp32" : "mixed", false);
  } catch (const CompileError& e) {
    if (std::getenv("GRID_BENCH_DUMP")) {  // the plan: every tensor's shape and the grid axis of each dimension
      const GridPlan plan = planGrid(g, rows, cols);
      for (std::size_t v = 0; v < g.values.size(); ++v) {
        std::string axes;
        for (int a : plan.split[v]) axes += " " + std::to_string(a);
        std::fprintf(stderr, "%s %s:%s\n", g.values[v].name.c_str(), shapeText(g.values[v].shape).c_str(), axes.c_str());
      }
    }
    std::fprintf(stderr, "does not compile: %s\n", e.what());
    return 1;
  }
  std::vector<Program> programs;
  for (const auto& lp : job.lowered) programs.push_back(lp.program);
  const double compileSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t peak = 0;
  for (const auto& lp : job.lowered) peak = std::max(peak, lp.sramPeakBytes);

  // State: the full tensors fed to each step (inputs fixed; weights and momentum carried).
  std::map<std::string, std::vector<double>> state;
  std::uniform_real_distribution<double> ux(-1.0, 1.0);
  for (int in : g.inputs) {
    const Value& v = g.values[std::size_t(in)];
    std::vector<double> t(std::size_t(elementCount(v.shape)), 0.0);
    if (v.name == "x")
      for (double& e : t) e = ux(gen);
    else if (v.name == "target")
      for (std::int64_t i = 0; i < batch; ++i) t[std::size_t(i * classes + (i * 7) % classes)] = 1.0;
    state[v.name] = t;
  }
  for (int p : g.parameters) state[g.values[std::size_t(p)].name] = g.values[std::size_t(p)].data;
  const int loss = g.outputs.front();
  const double flops = double(compiler::matrixFlops(g));  // the graph's, before padding to tiles
  std::printf("%s: %lld layers of %lld, batch %lld, grid %s (%zu of %zu active cores), SRAM peak %llu bytes per core, compiled in %.1f s\n",
              isCnn ? "CNN" : "wide MLP", (long long)layers, (long long)width, (long long)batch, grid.c_str(), cores.size(),
              sliceRing(config, config.die.rows, config.die.cols).size(), (unsigned long long)peak, compileSeconds);
  {
    // Where the first core's step goes, by the cost model: estimated cycles per op kind.
    std::map<std::string, double> byOp;
    double total = 0;
    for (const auto& oc : job.lowered[0].ops) byOp[oc.op + " (" + oc.bound + ")"] += oc.cycles, total += oc.cycles;
    std::printf("cost model, core %d: %.0f cycles estimated;", cores[0], total);
    for (const auto& [op, c] : byOp)
      if (c >= 0.01 * total) std::printf(" %s %.0f%%", op.c_str(), 100.0 * c / total);
    std::printf("\n");
  }
  std::vector<Tensor> oracle;
  for (int step = 0; step < steps; ++step) {
    std::vector<runtime::CoreProgram> all;
    for (std::size_t k = 0; k < cores.size(); ++k) {
      all.emplace_back(cores[k], &programs[k]);
      const int r = int(k) / cols, c = int(k) % cols;
      for (const auto& [name, full] : state) {
        const int v = g.find(name);
        all.back().inputs.push_back(image(name, job.lowered[k].layout.at(name).addr, sliceBlock(blockOf(g, job.plan, v, r, c), g.values[std::size_t(v)].shape, full)));
      }
    }
    runtime::RunOptions options;
    options.timingOnly = timingOnly;
    options.trace = std::getenv("GRID_BENCH_TRACE") != nullptr;
    const auto t1 = std::chrono::steady_clock::now();
    const runtime::RunResult run = runtime::runPrograms(config, all, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    if (!run.error.empty()) {
      std::fprintf(stderr, "run failed: %s\n", run.error.c_str());
      return 1;
    }
    if (options.trace) {
      // Measured on the first core: how far each op moved the end of the work done so far, by op kind.
      const auto& lp = job.lowered[0];
      std::vector<std::uint64_t> endAt(lp.ops.size(), 0);
      for (const auto& tr : run.traces)
        if (tr.core == cores[0])
          for (const auto& sl : tr.slices)
            for (std::size_t i = 0; i < lp.ops.size(); ++i)
              if (sl.pc >= lp.ops[i].firstPc && sl.pc < lp.ops[i].endPc) endAt[i] = std::max(endAt[i], sl.start + sl.cycles);
      std::map<std::string, std::pair<double, double>> byOp;  // measured, estimated
      std::uint64_t before = 0;
      for (std::size_t i = 0; i < lp.ops.size(); ++i) {
        const std::uint64_t end = std::max(endAt[i], before);
        byOp[lp.ops[i].op].first += double(end - before), byOp[lp.ops[i].op].second += lp.ops[i].cycles;
        before = end;
      }
      std::printf("measured on core %d (estimated):", cores[0]);
      for (const auto& [op, me] : byOp)
        if (me.first >= 0.01 * double(run.stats.cycles)) std::printf(" %s %.0f (%.0f)", op.c_str(), me.first, me.second);
      std::printf("\n");
    }
    double lossValue = std::nan("");
    std::map<std::string, Tensor> feeds;
    if (check && step == 0)
      for (const auto& [name, full] : state) feeds[name] = Tensor{g.values[std::size_t(g.find(name))].shape, full};
    double worst = 0;
    std::string worstName;
    for (int o : g.outputs) {
      const Value& v = g.values[std::size_t(o)];
      std::vector<double> full(std::size_t(elementCount(v.shape)), 0.0);
      for (std::size_t k = 0; k < cores.size(); ++k) {
        const Block b = blockOf(g, job.plan, o, int(k) / cols, int(k) % cols);
        const std::string key = cores.size() > 1 ? "c" + std::to_string(cores[k]) + "." + v.name : v.name;
        for (const auto& img : run.outputs)
          if (img.name == key && !img.bytes.empty()) {
            std::vector<float> f(std::size_t(elementCount(b.local)));
            std::memcpy(f.data(), img.bytes.data(), f.size() * 4);
            placeBlock(b, v.shape, std::vector<double>(f.begin(), f.end()), full);
          }
      }
      if (o == loss) lossValue = full[0];
      if (!feeds.empty()) {
        if (oracle.empty()) {
          EvalOptions fp32;
          fp32.roundToFloat = true;
          oracle = evaluate(g, feeds, fp32);
        }
        const auto& want = oracle[std::size_t(o)].data;
        double num = 0, den = 0;
        for (std::size_t i = 0; i < want.size(); ++i) num += (full[i] - want[i]) * (full[i] - want[i]), den += want[i] * want[i];
        const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
        if (rel > worst) worst = rel, worstName = v.name;
      }
      const std::string& nm = v.name;
      if (nm.size() > 5 && nm.compare(nm.size() - 5, 5, ".next") == 0) state[nm.substr(0, nm.size() - 5)] = full;
    }
    const double flopsPerCycle = double(config.core.matrix_units * config.core.matrix_dim * config.core.matrix_dim) * 2;
    const double activeCores = double(sliceRing(config, config.die.rows, config.die.cols).size());
    if (!feeds.empty()) std::printf("step 1 against the host oracle: largest relative error %.3g (%s)\n", worst, worstName.c_str());
    std::printf("step %d: loss %.6f, %llu cycles, matrix utilization %.3f of the grid's cores (%.3f of the die's), %.1f s host\n", step + 1,
                lossValue, (unsigned long long)run.stats.cycles, flops / (flopsPerCycle * double(cores.size()) * double(run.stats.cycles)),
                flops / (flopsPerCycle * activeCores * double(run.stats.cycles)), seconds);
  }
  return 0;
}
