// The sections of the validation report (docs/validation.md) that `tatami validate` writes.
#include "validation_report.h"

#include <iomanip>
#include <ostream>
#include <sstream>

#include "format_text.h"
#include "run_report.h"
#include "tatami/arch/assembler.h"
#include "tatami/driver/job.h"
#include "tatami/runtime/run.h"

namespace tatami::cli {

std::string num(double v, int digits) {
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

}  // namespace tatami::cli
