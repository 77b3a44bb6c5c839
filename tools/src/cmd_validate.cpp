// `tatami validate`: the network validation report (docs/validation.md): zero-load latency of
// both network models against the formula, and the fast model against the flit-level reference
// on synthetic traffic (saturation, latency), both against each pattern's throughput bound.
#include <fstream>
#include <future>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <thread>

#include "command.h"
#include "format_text.h"
#include "run_report.h"
#include "tatami/arch/assembler.h"
#include "tatami/driver/job.h"
#include "tatami/driver/sensitivity.h"
#include "tatami/runtime/run.h"
#include "tatami/runtime/validation.h"

namespace tatami::cli {

namespace {

std::string num(double v, int digits = 3) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

std::string sci(double v) {
  std::ostringstream os;
  os << std::scientific << std::setprecision(2) << v;
  return os.str();
}

std::string pct(double ratio) { return (ratio >= 1 ? "+" : "") + num(100.0 * (ratio - 1.0), 1) + "%"; }

void printZeroLoad(std::ostream& out) {
  out << "## Zero-load latency against the formula\n\n"
         "One transfer alone, from the DMA issue to the last byte in the destination SRAM, in cycles; the formula is\n"
         "docs/timing.md's: routers x hop latency + die crossings x d2d latency + ceil(bytes / narrowest width).\n\n"
         "| transfer | formula | fast | flit | |\n|---|---|---|---|---|\n";
  for (const auto& z : runtime::zeroLoadCases())
    out << "| " << z.what << " | " << z.formula << " | " << z.fast << " | " << z.flit << " | "
        << (z.fast == z.formula && z.flit == z.formula ? "equal" : "DIFFERS") << " |\n";
  out << "\n";
}

void printPatterns(const std::vector<runtime::PatternValidation>& rows, std::ostream& out) {
  out << "## Fast model against the flit-level reference\n\n"
         "Offered load in 64 B packets per sending node per cycle, one-packet transfers, XY routing, 8-packet buffers "
         "(the flit model: 2 virtual channels of 4). Saturation: the largest accepted rate over a sweep of offered rates "
         "at";
  for (double f : runtime::sweepFractions()) out << " " << num(f, 1);
  out << " of the pattern's bound, the same definition for both models. Bound: the largest offered rate no link "
         "can refuse, from the exact channel loads of the pattern under XY routing. Latency: mean cycles from creation to "
         "arrival at 10%, 50% and 80% of the flit model's saturation. Targets: saturation within 10%, latency within "
         "15% below 80% of saturation.\n\n"
         "| mesh | pattern | bound | saturation fast | saturation flit | fast vs flit | latency 10% fast / flit | 50% | 80% | "
         "targets |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& v : rows) {
    const double sat = v.saturationFast / v.saturationFlit;
    bool latencyOk = true;
    for (int k = 0; k < 3; ++k) latencyOk = latencyOk && std::abs(v.latencyFast[k] / v.latencyFlit[k] - 1.0) <= 0.15;
    const bool satOk = std::abs(sat - 1.0) <= 0.10;
    out << "| " << v.mesh << " | " << v.pattern << " | " << num(v.bound) << " | " << num(v.saturationFast) << " | "
        << num(v.saturationFlit) << " | " << pct(sat) << " |";
    for (int k = 0; k < 3; ++k) out << " " << num(v.latencyFast[k], 1) << " / " << num(v.latencyFlit[k], 1) << " |";
    out << " " << (satOk ? "saturation ok" : "saturation MISSES") << ", " << (latencyOk ? "latency ok" : "latency MISSES")
        << (v.aboveBound() ? ", ABOVE BOUND" : "") << " |\n";
  }
  out << "\n";
}

/// The core's RTL datapath against the C++ one, and compiled steps against the host oracle.
void printAgreement(const std::string& sourceDir, std::ostream& out) {
  out << "## RTL against the C++ core, compiled steps against the oracle\n\n"
         "| check | cycles | values |\n|---|---|---|\n";
  const Program gemm = loadProgramFile(sourceDir + "/examples/gemm/gemm.tasm");
  runtime::RunOptions o;
  ArchConfig cpp, rtl;
  setParam(rtl, "sim.rtl_cores", "all", "validate");
  const runtime::RunResult a = runtime::runPrograms(cpp, {{0, &gemm}}, o);
  std::string rtlRow;
  try {
    const runtime::RunResult b = runtime::runPrograms(rtl, {{0, &gemm}}, o);
    rtlRow = "| GEMM 256^3 on an RTL core vs a C++ core | " + std::to_string(b.stats.cycles) + " vs " + std::to_string(a.stats.cycles) +
             (a.stats.cycles == b.stats.cycles ? " (equal)" : " (DIFFER)") + " | output hash " + hashText(b.outputHash) + " vs " +
             hashText(a.outputHash) + (a.outputHash == b.outputHash ? " (bit-identical)" : " (DIFFER)") + " |\n";
  } catch (const std::exception& e) {
    rtlRow = "| GEMM on an RTL core | not in this build: " + std::string(e.what()) + " | |\n";
  }
  out << rtlRow;
  for (const auto& [slice, grid] : std::vector<std::pair<std::string, std::string>>{{"1x1", ""}, {"2x2", ""}, {"2x2", "2x2"}}) {
    driver::CompileRequest r;
    r.model = sourceDir + "/examples/fashion_mnist/mlp.onnx";
    r.loss = "xent", r.batch = 16, r.slice = slice, r.grid = grid, r.precision = "fp32";
    r.optimizer.momentum = 0.9;
    const driver::StepCheck c = driver::checkStep(r, ArchConfig{}, 1);
    out << "| MLP step (FP32, batch 16) " << (grid.empty() ? "on a " + slice + " slice" : "on a " + grid + " grid")
        << " vs the host oracle in FP32 | " << c.run.run.stats.cycles << " | largest relative error over every output "
        << (c.run.run.error.empty() ? sci(c.worst) : "(run failed: " + c.run.run.error + ")") << " |\n";
  }
  out << "\n";
}

void printSensitivity(const driver::Sensitivity& s, std::ostream& out) {
  out << "## Sensitivity: one parameter at a time\n\n"
         "Cycles of four workloads on two 8x8 dies side by side (every core active), at the D1 preset's other values "
         "and with one parameter changed; timing only (the same cycles as a full run). Each change has the direction "
         "physics expects (cycles must not fall, must not rise, or must stay); a row that breaks it says WRONG, and "
         "the report's test fails.\n\n| change |";
  for (const auto& w : s.workloads) out << " " << w << " |";
  out << " expected | |\n|---|";
  for (std::size_t i = 0; i < s.workloads.size(); ++i) out << "---|";
  out << "---|---|\n| (preset) |";
  for (auto c : s.baseline) out << " " << c << " |";
  out << " | |\n";
  for (const auto& row : s.rows) {
    out << "| `" << row.key << " = " << row.value << "` |";
    for (std::size_t w = 0; w < row.cycles.size(); ++w) {
      const double ratio = s.baseline[w] ? double(row.cycles[w]) / double(s.baseline[w]) : 0.0;
      out << " " << row.cycles[w] << " (" << pct(ratio) << ") |";
    }
    out << " " << (row.expected == 2 ? "either way" : row.expected > 0 ? "not fewer" : row.expected < 0 ? "not more" : "the same") << ": "
        << row.why << " | "
        << (row.holds ? "holds" : "WRONG") << " |\n";
  }
  out << "\n";
}

}  // namespace

int cmdValidate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  std::string output;
  runtime::TrafficOptions base;
  base.warmupCycles = 500, base.measureCycles = 2000;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::string sourceDir = ".";
  desc.add_options()
      ("help,h", "show this help")
      ("output,o", po::value<std::string>(&output)->value_name("FILE"), "write the report here (default: stdout)")
      ("warmup", po::value<std::uint64_t>(&base.warmupCycles)->default_value(500), "warm-up cycles of each traffic run")
      ("measure", po::value<std::uint64_t>(&base.measureCycles)->default_value(2000), "measurement window of each traffic run")
      ("jobs,j", po::value<unsigned>(&jobs), "meshes and patterns validated at once (default: the host's cores)")
      ("source", po::value<std::string>(&sourceDir)->default_value("."), "the repository (its examples/ are the sensitivity workloads)");
  po::variables_map vm;
  if (!parseArgs(args, desc, nullptr, vm,
                 "Usage: tatami validate [-o docs/validation.md] [--jobs N]\n"
                 "The network's validation report: both models' zero-load latency against the formula, and the fast\n"
                 "reservation model against the flit-level reference on uniform, transpose, bit-complement, hotspot and\n"
                 "neighbour traffic on 8x8 and 16x16 meshes and on two and four dies.",
                 out))
    return kExitOk;
  if (jobs == 0) throw UsageError("--jobs must be at least 1");
  if (base.measureCycles == 0) throw UsageError("--measure must be at least one cycle");
  if (!std::ifstream(sourceDir + "/examples/gemm/gemm.tasm"))
    throw UsageError("--source '" + sourceDir + "' is not the repository (no examples/gemm/gemm.tasm there)");
  std::ofstream file;
  if (!output.empty()) {  // opened now: a path that cannot be written stops the run before it starts
    file.open(output);
    if (!file) throw UsageError("cannot write '" + output + "'");
  }
  std::vector<std::pair<runtime::NamedConfig, std::string>> work;
  for (const auto& mesh : runtime::validationMeshes())
    for (const auto& pattern : runtime::trafficPatterns()) work.push_back({mesh, pattern});
  std::vector<runtime::PatternValidation> rows(work.size());
  for (std::size_t first = 0; first < work.size(); first += jobs) {
    std::vector<std::future<runtime::PatternValidation>> running;
    for (std::size_t k = first; k < std::min(work.size(), first + jobs); ++k)
      running.push_back(std::async(std::launch::async, runtime::validatePattern, work[k].first, work[k].second, base));
    for (std::size_t k = 0; k < running.size(); ++k) {
      rows[first + k] = running[k].get();
      err << "validate: " << rows[first + k].mesh << " " << rows[first + k].pattern << " done\n";
    }
  }
  std::ostringstream report;
  report << "# Validation of the network model\n\n"
            "Regenerated by `scripts/validate.sh` (`tatami validate -o docs/validation.md`); CI regenerates it and a test fails "
            "when this file is stale (every figure is deterministic; host times are in the last section, which the test "
            "skips). The flit-level reference is `sim.network = flit` (docs/network.md).\n\n";
  printZeroLoad(report);
  printPatterns(rows, report);
  printAgreement(sourceDir, report);
  printSensitivity(driver::sensitivity(sourceDir), report);
  report << "<!-- host-time begin -->\n## Speed\n\nHost seconds of each model over the whole sweep of the row (this machine; "
            "not deterministic):\n\n| mesh | pattern | fast s | flit s | flit / fast |\n|---|---|---|---|---|\n";
  for (const auto& v : rows)
    report << "| " << v.mesh << " | " << v.pattern << " | " << num(v.hostSecondsFast, 2) << " | " << num(v.hostSecondsFlit, 2) << " | "
           << num(v.hostSecondsFlit / std::max(1e-9, v.hostSecondsFast), 1) << "x |\n";
  report << "<!-- host-time end -->\n";
  if (output.empty()) {
    out << report.str();
    return kExitOk;
  }
  file << report.str();
  file.close();
  if (!file) throw std::runtime_error("cannot write '" + output + "'");
  return kExitOk;
}

}  // namespace tatami::cli
