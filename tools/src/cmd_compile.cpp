// `tatami compile` and `tatami check`: the compiler's front end and passes, lowering for one core,
// and the comparison of a compiled training step on the emulator against the host oracle.
#include <fstream>
#include <ostream>
#include <sstream>

#include "command.h"
#include "step_options.h"
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
    if (!oc.choice.empty()) out << "  chosen: " << oc.choice << "\n";
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
    oc.partition = "grid " + grid + (v >= 0 ? " [" + layoutText(plan, v) + "]" : "");
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

}  // namespace

}  // namespace tatami::cli

namespace tatami::cli {

int cmdCompile(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  CompileRequest r;
  MachineOptions machine;
  std::string output;
  desc.add_options()("help,h", "show this help");
  addStepOptions(desc, r);
  desc.add_options()
      ("print-after", po::value<std::vector<std::string>>(&r.printAfter)->composing()->value_name("PASS"),
       "print what this pass or stage made (repeatable; 'all' for every one; see --print-pipeline): the IR after a "
       "graph pass, decompose-spatial or local-graph, the grid plan, the fused transposes, the HBM homes, the memory plan "
       "or the program of the first core")
      ("output,o", po::value<std::string>(&output)->value_name("BUNDLE"),
       "lower the step and write a bundle (docs/bundle.md) that `tatami run` loads: the configuration, one program per core "
       "and every tensor's place; a name ending in .tasm writes the one-core tile program instead (layout in FILE.tasm.layout)")
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
  const bool parallelSlice = !r.slice.empty() && r.slice != "1x1" && r.grid.empty();
  checkStepOptions(r);
  std::vector<std::pair<std::string, std::string>> stages;
  for (const auto& p : trainingPipeline(r, parallelSlice)) stages.emplace_back(p.name, p.description);
  const auto later = placementStages(!r.grid.empty());
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
    if (vm.count("explain") && !r.grid.empty()) {
      // The first grid position's program; each op's partition is its result's layout: per
      // dimension, split over the grid's rows (r), its columns (c), or whole (-).
      const GridSpec spec = gridOf(r, config);
      GridJob job = placeOnGrid(g, config, spec.cores, spec.rows, spec.cols, r.precision);
      labelGridOps(g, job.plan, r.grid, job.lowered[0]);
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
        compileJob(quiet, config, &out);
      }
      return kExitOk;
    }
    if (output.size() > 5 && output.compare(output.size() - 5, 5, ".tasm") == 0) {
      if (sliceOf(r, config).size() > 1 || !r.grid.empty()) throw UsageError("-o FILE.tasm writes one core's program; use -o BUNDLE for a slice or a grid");
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
    const CompiledJob job = compileJob(r, config);
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
  MachineOptions machine;
  std::uint64_t seed = 1;
  desc.add_options()("help,h", "show this help");
  addStepOptions(desc, r);
  desc.add_options()
      ("seed", po::value<std::uint64_t>(&seed)->default_value(1), "seed of the random inputs and targets")
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
  checkStepOptions(r);
  const ArchConfig config = machine.resolve();
  try {
    const bool tir = r.model.size() > 4 && r.model.compare(r.model.size() - 4, 4, ".tir") == 0;
    if (r.grid.empty() && tir && sliceOf(r, config).size() > 1)
      throw UsageError("--slice over several cores needs an ONNX model and --batch (split across the cores)");
    runtime::RunOptions runOptions;
    runOptions.rtlCheck = vm.count("rtl-check") > 0;
    runOptions.trace = vm.count("explain") > 0;
    StepCheck c = checkStep(r, config, seed, runOptions);
    if (!c.run.run.error.empty()) {
      err << "tatami check: the emulator run failed: " << c.run.run.error << "\n";
      return kExitRunFailed;
    }
    const runtime::RunResult& run = c.run.run;
    if (vm.count("explain")) {
      if (!r.grid.empty()) labelGridOps(c.job.step, c.job.plan, r.grid, c.job.lowered[0]);
      const std::vector<std::uint64_t> measured = measuredPerOp(c.job.lowered[0], run);
      printCostTable(c.job.lowered[0], &measured, out);
      out << "measured: " << run.stats.cycles << " cycles per step\n";
    }
    const std::size_t cores = c.job.bundle.programs.size();
    const double util = run.matrixUtilization(config);
    if (vm.count("json")) {
      nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
      for (const auto& [name, rel] : c.errors) tensors.push_back({{"tensor", name}, {"rel_error", rel}});
      nlohmann::ordered_json j = {{"max_rel_error", c.worst}, {"cycles", run.stats.cycles}, {"cores", cores}};
      if (!r.grid.empty()) j["grid"] = r.grid;
      j["matrix_utilization"] = util;
      j["tensors"] = tensors;
      out << j.dump(2) << "\n";
      return kExitOk;
    }
    out << "tensor                          relative error\n";
    for (const auto& [name, rel] : c.errors) {
      std::string n = name;
      n.resize(std::max<std::size_t>(32, n.size() + 1), ' ');
      out << n << rel << "\n";
    }
    out << "max relative error " << c.worst << "; " << run.stats.cycles << " cycles on "
        << (r.grid.empty() ? std::to_string(cores) + " core(s)" : "a " + r.grid + " grid of cores") << "; matrix utilization " << util << "\n";
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
