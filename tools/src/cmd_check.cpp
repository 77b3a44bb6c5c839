// `tatami check`: one compiled training step on the emulator against the host oracle from the
// same seeded inputs: the relative error of every output, gradient and updated weight.
#include <nlohmann/json.hpp>

#include "run_report.h"
#include <ostream>

#include "command.h"
#include "cost_table.h"
#include "step_options.h"
#include "tatami/driver/job.h"
#include "tatami/driver/placement.h"
#include "tatami/driver/checkpoint.h"
#include "tatami/driver/reference.h"

namespace tatami::cli {

using namespace tatami::compiler;
using namespace tatami::driver;

namespace {

/// --reference: the oracle against PyTorch, the emulator against the oracle.
int checkAgainst(const CompileRequest& r, const ArchConfig& config, const std::string& path, const runtime::RunOptions& options, bool json,
                 std::ostream& out, std::ostream& err) {
  ReferenceCheck c;
  try {
    c = checkReference(r, config, path, options);
  } catch (const DataError& e) {
    err << "tatami check: " << e.what() << "\n";
    return kExitBadInput;
  }
  if (!c.run.run.error.empty()) {
    err << "tatami check: the emulator run failed: " << c.run.run.error << "\n";
    return kExitRunFailed;
  }
  if (json) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& row : c.rows) {
      nlohmann::ordered_json j{{"tensor", row.tensor}, {"against", row.against}, {"rel_error", row.relError}, {"tolerance", row.tolerance}};
      if (row.noise > 0) j["fp32_noise"] = row.noise;
      rows.push_back(std::move(j));
    }
    out << nlohmann::ordered_json{{"pass", c.passes()}, {"oracle_vs_pytorch", c.worstPytorch}, {"pytorch_tolerance", c.pytorchTolerance},
                                  {"emulator_vs_oracle", c.worstOracle}, {"emulator_tolerance", c.oracleTolerance},
                                  {"cycles", c.run.run.stats.cycles}, {"cores", c.job.bundle.programs.size()},
                                  {"placement", c.job.placement}, {"lr", c.lr}, {"breakdown", runtime::breakdownJson(c.run.run.breakdown)},
                                  {"tensors", rows}}
               .dump(2)
        << "\n";
    return c.passes() ? kExitOk : kExitRunFailed;
  }
  out << "tensor                          against   relative error\n";
  for (const auto& row : c.rows) {
    std::string n = row.tensor, a = row.against;
    n.resize(std::max<std::size_t>(32, n.size() + 1), ' '), a.resize(10, ' ');
    out << n << a << row.relError;
    if (row.noise > 0)
      out << "  (PyTorch's FP32 noise here is about " << row.noise << ": held to " << row.tolerance << ")";
    out << "\n";
  }
  out << "the oracle against PyTorch: worst " << c.worstPytorch << "; the emulator against the oracle: worst " << c.worstOracle << "; "
      << c.run.run.stats.cycles << " cycles, " << c.job.placement << "\n";
  printBreakdownText(c.run.run.breakdown, out);
  for (const auto& w : c.job.weighed) out << "  weighed " << w << "\n";
  if (c.passes()) return kExitOk;
  err << "tatami check: outside the tolerances (the oracle against PyTorch " << c.pytorchTolerance << ", the emulator against the oracle "
      << c.oracleTolerance << "):";
  for (const auto& f : c.failures()) err << "\n  " << f;
  err << "\n";
  return kExitRunFailed;
}

}  // namespace

int cmdCheck(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  CompileRequest r;
  MachineOptions machine;
  std::uint64_t seed = 1;
  std::string reference;
  desc.add_options()("help,h", "show this help");
  addStepOptions(desc, r);
  desc.add_options()
      ("seed", po::value<std::uint64_t>(&seed)->default_value(1), "seed of the random inputs and targets")
      ("reference", po::value<std::string>(&reference)->value_name("REF.h5"),
       "PyTorch's results for one batch (scripts/export_zoo.py): the oracle is held to its logits, loss, gradients and "
       "updated weights (softmax cross-entropy, SGD at its learning rate; --loss, --optimizer and --lr are taken from "
       "it), then the emulator to the oracle on that batch")
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
    const bool tir = isTextIr(r.model);
    if (r.grid.empty() && tir && sliceOf(r, config).size() > 1)
      throw UsageError("--slice over several cores needs an ONNX model and --batch (split across the cores)");
    runtime::RunOptions runOptions;
    runOptions.rtlCheck = vm.count("rtl-check") > 0;
    runOptions.trace = vm.count("explain") > 0;
    if (!reference.empty()) return checkAgainst(r, config, reference, runOptions, vm.count("json") > 0, out, err);
    StepCheck c = checkStep(r, config, seed, runOptions);
    if (!c.run.run.error.empty()) {
      err << "tatami check: the emulator run failed: " << c.run.run.error << "\n";
      return kExitRunFailed;
    }
    const runtime::RunResult& run = c.run.run;
    if (vm.count("explain")) {
      if (!r.grid.empty()) labelGridOps(c.job.step, c.job.plan, r.grid, c.job.lowered[0]);
      const std::vector<OpMeasure> measured = measuredPerOp(c.job.lowered[0], run);
      printCostTable(c.job.lowered[0], &measured, out);
      out << "measured: " << run.stats.cycles << " cycles per step\n";
    }
    const std::size_t cores = c.job.bundle.programs.size();
    const double util = run.matrixUtilization(config);
    if (vm.count("json")) {
      nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
      for (const auto& [name, rel] : c.errors) tensors.push_back({{"tensor", name}, {"rel_error", rel}});
      nlohmann::ordered_json j = {{"max_rel_error", c.worst}, {"cycles", run.stats.cycles}, {"cores", cores}, {"placement", c.job.placement}};
      if (!r.grid.empty()) j["grid"] = r.grid;
      j["matrix_utilization"] = util;
      j["issued_utilization"] = run.issuedUtilization(config);
      j["useful_matrix_flops"] = run.usefulFlops();
      j["issued_matrix_flops"] = run.stats.matrixFlops;
      j["breakdown"] = runtime::breakdownJson(run.breakdown);
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
    out << "max relative error " << c.worst << "; " << run.stats.cycles << " cycles, " << c.job.placement << " (" << cores
        << " core(s)); matrix utilization " << util << " of useful work (issued " << run.issuedUtilization(config) << ")\n";
    printBreakdownText(run.breakdown, out);
    for (const auto& w : c.job.weighed) out << "  weighed " << w << "\n";
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
