// `tatami compile`: the compiler's front end and passes; the IR after any stage, the pipeline,
// the op table, the cost model's table, or the step lowered for one core, a data-parallel slice
// or a tensor-parallel grid and written as a bundle.
#include <algorithm>
#include <fstream>
#include <ostream>

#include "command.h"
#include "cost_table.h"
#include "step_options.h"
#include "tatami/runtime/output_file.h"
#include "tatami/compiler/ops.h"
#include "tatami/driver/job.h"
#include "tatami/driver/placement.h"
#include "tatami/runtime/bundle.h"

namespace tatami::cli {

using namespace tatami::compiler;
using namespace tatami::driver;


namespace {

/// --explain: the cost model's table for the first core (or grid position), whose ops are
/// labelled with their partition.
void explain(const CompileRequest& r, const Graph& g, const ArchConfig& config, std::ostream& out) {
  if (!r.grid.empty()) {
    // Each op's partition is its result's layout: per dimension, split over the grid's rows (r),
    // its columns (c), or whole (-).
    const GridSpec spec = gridOf(r, config);
    GridJob job = placeOnGrid(g, config, spec.cores, spec.rows, spec.cols, r.precision, true, {}, gridFeed(r, config, spec));
    labelGridOps(g, job.plan, r.grid, job.lowered[0]);
    printCostTable(job.lowered[0], nullptr, out);
    return;
  }
  if (r.slice.empty()) {
    // No placement given: the one the cost model chooses, every candidate weighed, then the
    // winner's cost table (its first core, or grid position).
    const CompiledJob job = compileJob(r, config);
    out << "placement: " << job.placement << "\n";
    for (const auto& w : job.weighed) out << "  weighed " << w << "\n";
    if (!job.plan.split.empty()) {
      LoweredProgram first = job.lowered[0];
      labelGridOps(g, job.plan, std::to_string(job.plan.rows) + "x" + std::to_string(job.plan.cols), first);
      printCostTable(first, nullptr, out);
    } else {
      printCostTable(job.lowered[0], nullptr, out);
    }
    return;
  }
  const std::vector<int> ring = sliceOf(r, config);
  const CoreContext ctx = coreContext(r, config, ring, 0, std::int64_t(ring.size()));
  Graph part = g;
  if (ring.size() > 1) {
    if (r.batch < std::int64_t(ring.size()))
      throw UsageError("--explain over a slice needs --batch, at least the slice's " + std::to_string(ring.size()) + " cores");
    part = compileModel(r, nullptr, shareOf(r.batch, std::int64_t(ring.size()), 0));
  }
  printCostTable(lowerOrStream(part, config, ctx, 0), nullptr, out);
}

/// -o FILE.tasm: the one-core program as text, and its layout beside it.
void writeOneCoreProgram(const CompileRequest& r, const Graph& g, const ArchConfig& config, const std::string& output, std::ostream& out) {
  if (sliceOf(r, config).size() > 1 || !r.grid.empty()) throw UsageError("-o FILE.tasm writes one core's program; use -o BUNDLE for a slice or a grid");
  CoreContext ctx;
  ctx.precision = r.precision;
  const LoweredProgram lp = lowerToCore(g, config, ctx);
  std::ostringstream layout;
  layout << "# tensor  address  bytes (SRAM of core 0)\n";
  for (const auto& [name, p] : lp.layout) layout << name << " " << p.addr << " " << p.bytes << "\n";
  const std::string tasm = lp.tasm();
  runtime::writeOutputFile(output, tasm);
  runtime::writeOutputFile(output + ".layout", layout.str());
  out << "wrote " << output << " (" << std::count(tasm.begin(), tasm.end(), '\n') << " lines; SRAM peak " << lp.sramPeakBytes << " of "
      << config.core.sram_kib * 1024 << " bytes)\n";
}

}  // namespace

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
  // A data-parallel core's pipeline has the sync and the averaging (any share of several cores lists them).
  const BatchShare aCoreOfSeveral{1, 2};
  for (const auto& p : trainingPipeline(r, parallelSlice ? aCoreOfSeveral : BatchShare{})) stages.emplace_back(p.name, p.description);
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
    if (vm.count("explain")) {
      explain(r, g, config, out);
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
      writeOneCoreProgram(r, g, config, output, out);
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

}  // namespace tatami::cli
