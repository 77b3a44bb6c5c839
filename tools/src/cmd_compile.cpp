// `tatami compile` and `tatami check`: the compiler's front end and passes, lowering for one core,
// and the comparison of a compiled training step on the emulator against the host oracle.
#include <fstream>
#include <ostream>
#include <sstream>

#include "command.h"
#include <algorithm>
#include <functional>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "tatami/arch/assembler.h"
#include "tatami/arch/philox.h"
#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/lower.h"
#include "tatami/compiler/onnx_import.h"
#include "tatami/compiler/partition.h"
#include "tatami/runtime/bundle.h"
#include "tatami/runtime/run.h"
#include "format_text.h"

#include <iomanip>
#include "tatami/compiler/pipeline.h"
#include "tatami/compiler/training.h"
#include "tatami/driver/job.h"
#include "tatami/driver/placement.h"
#include "tatami/driver/step.h"

namespace tatami::cli {

namespace {

using namespace tatami::compiler;
using namespace tatami::driver;

void addTrainingOptions(po::options_description& desc, CompileRequest& r) {
  desc.add_options()
      ("model", po::value<std::string>(&r.model), "an ONNX model (.onnx) or text IR (.tir)")
      ("batch", po::value<std::int64_t>(&r.batch)->default_value(0), "the size of symbolic input dimensions (the batch)")
      ("loss", po::value<std::string>(&r.loss)->default_value(r.loss),
       "add a training step with this loss on the model's first output: xent (softmax cross-entropy), mse, or none")
      ("optimizer", po::value<std::string>(&r.optimizer.kind)->default_value("sgd"), "sgd or adamw")
      ("lr", po::value<double>(&r.optimizer.learningRate)->default_value(0.01), "learning rate")
      ("momentum", po::value<double>(&r.optimizer.momentum)->default_value(0.0), "SGD momentum")
      ("weight-decay", po::value<double>(&r.optimizer.weightDecay)->default_value(0.0),
       "weight decay (L2 for SGD, decoupled for AdamW)")
      ("precision", po::value<std::string>(&r.precision)->default_value("mixed"),
       "mixed: matmuls on the matrix unit with BF16 operands, FP32 accumulation and FP32 master weights; fp32: FP32 throughout")
      ("slice", po::value<std::string>(&r.slice)->default_value("die"),
       "the RxC rectangle of cores (top-left of the system) the step runs on, data parallel: each core takes "
       "batch/cores rows and the gradients are all-reduced over a ring. Default 'die': the whole first die, as many "
       "of its active cores (in ring order) as divide --batch (one core for a .tir model or without --batch)");
}

/// The cost model's table: one row per op; `measured` (if given) beside the estimate.
void printCostTable(const LoweredProgram& lp, const std::vector<std::uint64_t>* measured, std::ostream& out) {
  out << "op                        shape          partition                  bound     estimate" << (measured ? "   measured  est/meas" : "")
      << "\n";
  double total = 0;
  for (std::size_t i = 0; i < lp.ops.size(); ++i) {
    const auto& oc = lp.ops[i];
    std::string name = oc.op + " " + oc.node, shape = oc.shape, partition = oc.partition, bound = oc.bound;
    name.resize(26, ' '), shape.resize(15, ' '), partition.resize(27, ' '), bound.resize(10, ' ');
    out << name << shape << partition << bound << std::setw(8) << std::llround(oc.cycles);
    if (measured) {
      const std::uint64_t m = (*measured)[i];
      out << std::setw(11) << m << std::setw(10) << (m ? readable(oc.cycles / double(m), 2) : std::string("-"));
    }
    out << "\n";
    total += oc.cycles;
  }
  out << "total: estimated " << std::llround(total) << " cycles per step; SRAM peak " << lp.sramPeakBytes << " bytes\n";
}

/// The cores of the requested slice, in ring order.
/// Each op of a grid position's program labelled with its result's layout in the full graph: per
/// dimension split over the grid's rows (r), its columns (c), or whole (-).
void labelGridOps(const Graph& g, const GridPlan& plan, const std::string& grid, LoweredProgram& lp) {
  for (auto& oc : lp.ops) {
    const int v = g.find(oc.node);
    std::string layout;
    if (v >= 0)
      for (int a : plan.split[std::size_t(v)]) layout += std::string(layout.empty() ? "" : ",") + (a < 0 ? "-" : a == 0 ? "r" : "c");
    oc.partition = "grid " + grid + (v >= 0 ? " [" + layout + "]" : "");
  }
}

/// The cycles each op of `lp` took on the first core of a traced run: how far it moved the end of
/// the work done so far.
std::vector<std::uint64_t> measuredPerOp(const LoweredProgram& lp, const runtime::RunResult& run) {
  std::vector<std::uint64_t> endAt(lp.ops.size(), 0), measured;
  for (const auto& sl : run.traces.front().slices)
    for (std::size_t i = 0; i < lp.ops.size(); ++i)
      if (sl.pc >= lp.ops[i].firstPc && sl.pc < lp.ops[i].endPc) endAt[i] = std::max(endAt[i], sl.start + sl.cycles);
  std::uint64_t before = 0;
  for (std::size_t i = 0; i < lp.ops.size(); ++i) {
    const std::uint64_t end = std::max(endAt[i], before);
    measured.push_back(end - before);
    before = end;
  }
  return measured;
}

/// `tatami check --grid RxC`: one training step placed tensor-parallel on the grid, run on the
/// emulator, every output's blocks put together and compared with the oracle on the full graph.
int checkGrid(const CompileRequest& r, const std::string& grid, const GridSpec& spec, const ArchConfig& config, std::uint64_t seed,
              bool json, bool explain, std::ostream& out, std::ostream& err) {
  const int cols = spec.cols;
  const Graph g = compileModel(r, nullptr);
  GridJob job = placeOnGrid(g, config, spec.cores, spec.rows, spec.cols, r.precision);
  std::vector<Program> programs;
  for (const auto& lp : job.lowered) programs.push_back(assemble(lp.tasm, r.model + " (lowered)"));
  const std::map<std::string, Tensor> feeds = seededInputs(g, r.loss, seed);
  std::vector<runtime::CoreProgram> all;
  for (std::size_t k = 0; k < job.cores.size(); ++k) {
    all.emplace_back(job.cores[k], &programs[k]);
    for (int in : g.inputs) {
      const Value& v = g.values[std::size_t(in)];
      const Block b = blockOf(g, job.plan, in, int(k) / cols, int(k) % cols);
      all.back().inputs.push_back(floatImage(v.name, job.lowered[k].layout.at(v.name).addr, sliceBlock(b, v.shape, feeds.at(v.name).data)));
    }
  }
  runtime::RunOptions runOptions;
  runOptions.trace = explain;
  const runtime::RunResult run = runtime::runPrograms(config, all, runOptions);
  if (!run.error.empty()) {
    err << "tatami check: the emulator run failed: " << run.error << "\n";
    return kExitRunFailed;
  }
  if (explain) {
    labelGridOps(g, job.plan, grid, job.lowered[0]);
    const std::vector<std::uint64_t> measured = measuredPerOp(job.lowered[0], run);
    printCostTable(job.lowered[0], &measured, out);
    out << "measured: " << run.stats.cycles << " cycles per step\n";
  }
  EvalOptions fp32;
  fp32.roundToFloat = true;
  const auto oracle = evaluate(g, feeds, fp32);
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  double worst = 0;
  if (!json) out << "tensor                          relative error\n";
  for (int o : g.outputs) {
    const Value& v = g.values[std::size_t(o)];
    std::vector<double> assembled(oracle[std::size_t(o)].data.size(), 0.0);
    for (std::size_t k = 0; k < job.cores.size(); ++k) {
      const Block b = blockOf(g, job.plan, o, int(k) / cols, int(k) % cols);
      const std::string key = job.cores.size() > 1 ? "c" + std::to_string(job.cores[k]) + "." + v.name : v.name;
      std::vector<double> local(std::size_t(elementCount(b.local)), 0.0);
      for (const auto& img : run.outputs)
        if (img.name == key && img.bytes.size() >= local.size() * 4) {
          std::vector<float> f(local.size());
          std::memcpy(f.data(), img.bytes.data(), f.size() * 4);
          local.assign(f.begin(), f.end());
        }
      placeBlock(b, v.shape, local, assembled);
    }
    const double rel = relativeError(assembled, oracle[std::size_t(o)].data);
    worst = std::max(worst, rel);
    tensors.push_back({{"tensor", v.name}, {"rel_error", rel}});
    if (!json) {
      std::string n = v.name;
      n.resize(32, ' ');
      out << n << rel << "\n";
    }
  }
  const double util = run.matrixUtilization(config);
  if (json) {
    out << nlohmann::ordered_json{{"max_rel_error", worst}, {"cycles", run.stats.cycles}, {"cores", job.cores.size()},
                                  {"grid", grid}, {"matrix_utilization", util}, {"tensors", tensors}}
               .dump(2)
        << "\n";
  } else {
    out << "max relative error " << worst << "; " << run.stats.cycles << " cycles on a " << grid << " grid of cores; matrix utilization "
        << util << "\n";
  }
  return kExitOk;
}

}  // namespace

}  // namespace tatami::cli

namespace tatami::cli {

int cmdCompile(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  CompileRequest r;
  MachineOptions machine;
  std::string output, grid;
  desc.add_options()("help,h", "show this help");
  addTrainingOptions(desc, r);
  desc.add_options()
      ("print-after", po::value<std::vector<std::string>>(&r.printAfter)->composing()->value_name("PASS"),
       "print what this pass or stage made (repeatable; 'all' for every one; see --print-pipeline): the IR after a "
       "graph pass, decompose-spatial or local-graph, the grid plan, the fused transposes, the HBM homes, the memory plan "
       "or the program of the first core")
      ("output,o", po::value<std::string>(&output)->value_name("BUNDLE"),
       "lower the step and write a bundle (docs/bundle.md) that `tatami run` loads: the configuration, one program per core "
       "and every tensor's place; a name ending in .tasm writes the one-core tile program instead (layout in FILE.tasm.layout)")
      ("grid", po::value<std::string>(&grid)->value_name("RxC"),
       "tensor parallel over an RxC grid of the slice's active cores (the slice defaults to the whole first die)")
      ("explain", "print, per op, the partition, the cost model's estimated cycles and what bounds it")
      ("list-passes", "list the passes of the pipeline and exit")
      ("print-pipeline", "list every stage, the graph passes then placement and lowering (for --grid: with its planning), and exit")
      ("list-ops", "print the IR's op table (operands, attributes, meaning, gradient) as Markdown and exit");
  machine.addTo(desc);
  po::positional_options_description pos;
  pos.add("model", 1);
  po::variables_map vm;
  if (!parseArgs(args, desc, &pos, vm,
                 "Usage: tatami compile MODEL [--batch N] [--loss xent|mse] [--optimizer sgd|adamw] [--slice RxC | --grid RxC]\n"
                 "                      [--print-after PASS] [--explain] [-o BUNDLE]\n"
                 "Read a model into the compiler's IR, add the training step and run the passes; print the IR, or lower\n"
                 "it for one core, a data-parallel slice or a tensor-parallel grid and write a bundle.",
                 out))
    return kExitOk;
  if (vm.count("list-ops")) {
    out << opTableMarkdown();
    return kExitOk;
  }
  const bool parallelSlice = r.slice != "1x1" && grid.empty();
  std::vector<std::pair<std::string, std::string>> stages;
  for (const auto& p : trainingPipeline(r, parallelSlice)) stages.emplace_back(p.name, p.description);
  const auto later = placementStages(!grid.empty());
  stages.insert(stages.end(), later.begin(), later.end());
  if (vm.count("list-passes") || vm.count("print-pipeline")) {
    for (const auto& [name, what] : stages) {
      std::string n = name;
      n.resize(std::max<std::size_t>(19, n.size() + 1), ' ');
      out << n << what << "\n";
    }
    return kExitOk;
  }
  bool printsLater = false;
  for (const auto& want : r.printAfter) {
    const bool known = want == "all" || std::any_of(stages.begin(), stages.end(), [&](const auto& st) { return st.first == want; });
    if (!known) throw UsageError("--print-after '" + want + "': no such pass or stage here (see --print-pipeline)");
    printsLater = printsLater || want == "all" || std::any_of(later.begin(), later.end(), [&](const auto& st) { return st.first == want; });
  }
  const ArchConfig config = machine.resolve();
  try {
    const Graph g = compileModel(r, &out);
    if (vm.count("explain") && !grid.empty()) {
      // The first grid position's program; each op's partition is its result's layout: per
      // dimension, split over the grid's rows (r), its columns (c), or whole (-).
      const GridSpec spec = gridOf(grid, r, !vm["slice"].defaulted(), config);
      GridJob job = placeOnGrid(g, config, spec.cores, spec.rows, spec.cols, r.precision);
      labelGridOps(g, job.plan, grid, job.lowered[0]);
      printCostTable(job.lowered[0], nullptr, out);
      return kExitOk;
    }
    if (vm.count("explain")) {
      const std::vector<int> ring = sliceOf(r, config);
      CoreContext ctx{0, ring, r.precision};
      Graph part = g;
      if (ring.size() > 1) {
        if (r.batch <= 0 || r.batch % std::int64_t(ring.size()))
          throw UsageError("--explain over a slice needs --batch, a multiple of the slice's " + std::to_string(ring.size()) + " cores");
        part = compileModel(r, nullptr, r.batch / std::int64_t(ring.size()), true);
      }
      const LoweredProgram lp = lowerOrStream(part, config, ctx, 0);
      printCostTable(lp, nullptr, out);
      return kExitOk;
    }
    if (output.empty()) {
      if (r.printAfter.empty()) out << printGraph(g);
      if (printsLater) {
        CompileRequest quiet = r;  // the graph passes have printed already
        quiet.printAfter.clear();
        for (const auto& want : r.printAfter)
          if (want == "all" || std::any_of(later.begin(), later.end(), [&](const auto& st) { return st.first == want; }))
            quiet.printAfter.push_back(want);
        compileJob(quiet, config, grid, !vm["slice"].defaulted(), &out);
      }
      return kExitOk;
    }
    if (output.size() > 5 && output.compare(output.size() - 5, 5, ".tasm") == 0) {
      if (sliceOf(r, config).size() > 1 || !grid.empty()) throw UsageError("-o FILE.tasm writes one core's program; use -o BUNDLE for a slice or a grid");
      CoreContext ctx;
      ctx.precision = r.precision;
      const LoweredProgram lp = lowerToCore(g, config, ctx);
      std::ofstream f(output);
      f << lp.tasm;
      std::ofstream layout(output + ".layout");
      layout << "# tensor  address  bytes (SRAM of core 0)\n";
      for (const auto& [name, p] : lp.layout) layout << name << " " << p.addr << " " << p.bytes << "\n";
      if (!f || !layout) throw std::runtime_error("cannot write '" + output + "'");
      out << "wrote " << output << " (" << std::count(lp.tasm.begin(), lp.tasm.end(), '\n') << " lines; SRAM peak "
          << lp.sramPeakBytes << " of " << config.core.sram_kib * 1024 << " bytes)\n";
      return kExitOk;
    }
    const CompiledJob job = compileJob(r, config, grid, !vm["slice"].defaulted());
    const runtime::Bundle& bundle = job.bundle;
    const std::uint64_t peak = job.sramPeakBytes;
    runtime::writeBundle(output, bundle);
    out << "wrote " << output << " (" << bundle.programs.size() << " program(s), " << bundle.tensors.size() << " tensors; SRAM peak "
        << peak << " of " << config.core.sram_kib * 1024 << " bytes per core)\n";
  } catch (const CompileError& e) {
    err << "tatami compile: " << e.what() << "\n";
    return kExitBadInput;
  }
  return kExitOk;
}

int cmdCheck(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  CompileRequest r;
  r.loss = "xent";
  MachineOptions machine;
  std::uint64_t seed = 1;
  std::string grid;
  desc.add_options()("help,h", "show this help");
  addTrainingOptions(desc, r);
  desc.add_options()
      ("seed", po::value<std::uint64_t>(&seed)->default_value(1), "seed of the random inputs and targets")
      ("grid", po::value<std::string>(&grid)->value_name("RxC"),
       "tensor parallel instead: every weight split over an RxC grid of the slice's active cores (row-major; "
       "the slice defaults to the whole first die)")
      ("explain", "also print, per op, the cost model's estimate beside the cycles measured on the first core")
      ("rtl-check", "on RTL cores (--set sim.rtl_cores=all|listed): check every RTL instruction against the reference "
                    "semantics and the timing model")
      ("json", "print one JSON object");
  machine.addTo(desc);
  po::positional_options_description pos;
  pos.add("model", 1);
  po::variables_map vm;
  if (!parseArgs(args, desc, &pos, vm,
                 "Usage: tatami check MODEL [--batch N] [--loss xent|mse] [--optimizer ...] [--json]\n"
                 "Compile one training step, run it on the emulator and on the host oracle from the same seeded inputs,\n"
                 "and report the relative error of every output, gradient and updated weight.",
                 out))
    return kExitOk;
  const ArchConfig config = machine.resolve();
  try {
    if (!grid.empty()) {
      return checkGrid(r, grid, gridOf(grid, r, !vm["slice"].defaulted(), config), config, seed, vm.count("json") > 0, vm.count("explain") > 0,
                       out, err);
    }
    const std::vector<int> ring = sliceOf(r, config);
    const std::int64_t cores = std::int64_t(ring.size());
    const Graph g = compileModel(r, nullptr);
    Graph part = g;
    std::int64_t shard = 0;
    if (cores > 1) {
      const bool tir = r.model.size() > 4 && r.model.compare(r.model.size() - 4, 4, ".tir") == 0;
      if (tir || r.batch <= 0) throw UsageError("--slice over several cores needs an ONNX model and --batch (split across the cores)");
      if (r.batch % cores) throw UsageError("--batch " + std::to_string(r.batch) + " is not a multiple of the slice's " + std::to_string(cores) + " active cores");
      shard = r.batch / cores;
      part = compileModel(r, nullptr, shard, true);
    }
    std::vector<LoweredProgram> lowered;
    std::vector<Program> programs;
    for (std::int64_t k = 0; k < cores; ++k) {
      if (r.precision != "mixed" && r.precision != "fp32") throw UsageError("--precision '" + r.precision + "': expected mixed or fp32");
      lowered.push_back(lowerOrStream(part, config, {int(k), ring, r.precision}, k));
      programs.push_back(assemble(lowered.back().tasm, r.model + " (lowered)"));
    }
    // Each core gets its rows of batch-shaped inputs and all of the others.
    std::map<std::string, Tensor> feeds;
    std::vector<runtime::CoreProgram> all;
    for (std::int64_t k = 0; k < cores; ++k) all.emplace_back(ring[std::size_t(k)], &programs[std::size_t(k)]);
    const std::map<std::string, Tensor> full = seededInputs(g, r.loss, seed);
    std::vector<runtime::SramImage> hbmInputs;
    for (int in : g.inputs) {
      const Value& v = g.values[std::size_t(in)];
      const Tensor& t = full.at(v.name);
      const Shape& ps = part.values[std::size_t(part.find(v.name))].shape;
      const bool sharded = cores > 1 && !v.shape.empty() && v.shape[0] == r.batch && !ps.empty() && ps[0] == shard;
      const std::size_t per = std::size_t(elementCount(ps));
      for (std::int64_t k = 0; k < cores; ++k) {
        const std::size_t from = sharded ? std::size_t(k) * per : 0;
        const TensorPlacement& at = lowered[std::size_t(k)].layout.at(v.name);
        runtime::SramImage img = floatImage(v.name, at.addr, std::vector<double>(t.data.begin() + long(from), t.data.begin() + long(from + per)));
        if (at.hbm) hbmInputs.push_back(std::move(img));  // streamed from HBM by the program
        else all[std::size_t(k)].inputs.push_back(std::move(img));
      }
      feeds[v.name] = t;
    }
    runtime::RunOptions runOptions;
    runOptions.rtlCheck = vm.count("rtl-check") > 0;
    runOptions.hbmInputs = std::move(hbmInputs);
    for (std::int64_t k = 0; k < cores; ++k) {
      const LoweredProgram& lp = lowered[std::size_t(k)];
      for (const auto& [hbmAddr, values] : lp.hbmInit)
        runOptions.hbmInputs.push_back(floatImage("init", hbmAddr, std::vector<double>(values.begin(), values.end())));
      for (std::size_t oi = 0; oi < part.outputs.size(); ++oi) {
        const Value& ov = part.values[std::size_t(part.outputs[oi])];
        const TensorPlacement& at = lp.layout.at(ov.name);
        if (!at.hbm) continue;
        runtime::SramImage dump;
        dump.name = cores > 1 ? "c" + std::to_string(ring[std::size_t(k)]) + "." + ov.name : ov.name;
        dump.addr = at.addr, dump.shape = {std::uint64_t(elementCount(ov.shape))};
        runOptions.hbmDumps.push_back(dump);
      }
    }
    runOptions.trace = vm.count("explain") > 0;
    const runtime::RunResult run = runtime::runPrograms(config, all, runOptions);
    if (!run.error.empty()) {
      err << "tatami check: the emulator run failed: " << run.error << "\n";
      return kExitRunFailed;
    }
    if (vm.count("explain")) {
      const std::vector<std::uint64_t> measured = measuredPerOp(lowered[0], run);
      printCostTable(lowered[0], &measured, out);
      out << "measured: " << run.stats.cycles << " cycles per step\n";
    }
    EvalOptions fp32;
    fp32.roundToFloat = true;
    const auto oracle = evaluate(g, feeds, fp32);
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    double worst = 0;
    if (!vm.count("json")) out << "tensor                          relative error\n";
    for (std::size_t oi = 0; oi < g.outputs.size(); ++oi) {
      const std::string& name = g.values[std::size_t(g.outputs[oi])].name;
      const std::string& partName = part.values[std::size_t(part.outputs[oi])].name;
      const auto& want = oracle[std::size_t(g.outputs[oi])].data;
      double rel = 0;
      // Every core holds the result: the worst of them counts.
      for (std::int64_t k = 0; k < cores; ++k) {
        const std::string key = cores > 1 ? "c" + std::to_string(ring[std::size_t(k)]) + "." + partName : partName;
        std::vector<float> got(want.size(), 0.0f);
        for (const auto& img : run.outputs)
          if (img.name == key && img.bytes.size() >= got.size() * 4) std::memcpy(got.data(), img.bytes.data(), got.size() * 4);
        rel = std::max(rel, relativeError(std::vector<double>(got.begin(), got.end()), want));
      }
      worst = std::max(worst, rel);
      tensors.push_back({{"tensor", name}, {"rel_error", rel}});
      if (!vm.count("json")) {
        std::string n = name;
        n.resize(32, ' ');
        out << n << rel << "\n";
      }
    }
    if (vm.count("json")) {
      out << nlohmann::ordered_json{{"max_rel_error", worst}, {"cycles", run.stats.cycles}, {"cores", cores},
                                    {"matrix_utilization", run.matrixUtilization(config)}, {"tensors", tensors}}
                 .dump(2)
          << "\n";
    } else {
      out << "max relative error " << worst << "; " << run.stats.cycles << " cycles on " << cores << " core(s)\n";
    }
  } catch (const CompileError& e) {
    err << "tatami check: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const ProgramError& e) {
    err << "tatami check: internal: the lowered program does not assemble: " << e.what() << "\n";
    return kExitRunFailed;
  }
  return kExitOk;
}

}  // namespace tatami::cli
