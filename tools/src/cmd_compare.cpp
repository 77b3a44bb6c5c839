// `tatami compare`: two results side by side. Either two result files (the --json output of run,
// check or train, or a results HDF5 file of run/train --output), or one workload (a model's
// training step) under two configurations: every metric with its ratio, the step's unit and
// stall breakdown, and the per-op cycles on the first core with the biggest movers first.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>

#include "command.h"
#include "cost_table.h"
#include "format_text.h"
#include "metrics.h"
#include "run_report.h"
#include "step_options.h"
#include "tatami/arch/config_files.h"
#include "tatami/driver/gpu_baseline.h"
#include "tatami/driver/job.h"
#include "tatami/runtime/bundle.h"
#include "tatami/runtime/results.h"

namespace tatami::cli {

using namespace tatami::compiler;
using namespace tatami::driver;
using Json = nlohmann::ordered_json;

namespace {

/// A result file's summary: a JSON document, or the `summary` attribute of a results HDF5 file.
Json loadResult(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read result file '" + path + "'");
  char first = 0;
  in >> std::ws;
  in.get(first);
  if (first == '{') {
    in.unget();
    try {
      return Json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(path + ": not a JSON result: " + e.what());
    }
  }
  std::map<std::string, std::string> attributes;
  std::vector<runtime::NamedArray> arrays;
  try {
    arrays = runtime::readArrays(path, &attributes);
  } catch (const std::exception& e) {
    throw InputError(path + ": neither a JSON result nor a results HDF5 file: " + e.what());
  }
  const auto s = attributes.find("summary");
  if (s == attributes.end()) throw InputError(path + ": a HDF5 file without a run summary (write it with run or train --output)");
  Json summary;
  try {
    summary = Json::parse(s->second);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": its summary is not JSON: " + e.what());
  }
  // The host time is kept apart from the simulated figures (host/seconds).
  for (const auto& a : arrays)
    if (a.name == "host/seconds" && a.data.size() == 1 && summary.is_object()) summary["host_seconds"] = a.data[0];
  return summary;
}

std::string ratioText(double a, double b) {
  if (a == b) return "1";
  if (a == 0) return "-";
  return readable(b / a, 3);
}

/// Every metric both results have, with B / A.
/// The metrics of either result, in A's order then B's own: (name, A's value if any, B's if any).
struct MetricRow {
  std::string name;
  bool hasA = false, hasB = false;
  double a = 0, b = 0;
};
std::vector<MetricRow> metricRows(const Json& a, const Json& b) {
  const auto fa = metricLeaves(a), fb = metricLeaves(b);
  std::vector<MetricRow> rows;
  std::map<std::string, std::size_t> at;
  for (const auto& [k, v] : fa) at[k] = rows.size(), rows.push_back({k, true, false, v, 0});
  for (const auto& [k, v] : fb) {
    if (!at.count(k)) at[k] = rows.size(), rows.push_back({k, false, false, 0, 0});
    rows[at[k]].hasB = true, rows[at[k]].b = v;
  }
  return rows;
}

void printMetrics(const Json& a, const Json& b, const std::string& nameA, const std::string& nameB, std::ostream& out) {
  const std::vector<MetricRow> rows = metricRows(a, b);
  std::size_t width = 6;
  for (const auto& r : rows) width = std::max(width, r.name.size() + 2);
  out << std::left << std::setw(int(width)) << "metric" << std::setw(14) << "unit" << std::right << std::setw(16) << nameA << std::setw(16)
      << nameB << std::setw(10) << "B/A" << "\n";
  for (const auto& r : rows) {
    const MetricInfo* m = findMetric(r.name);
    out << std::left << std::setw(int(width)) << r.name << std::setw(14) << (m ? m->unit : "(undeclared)") << std::right << std::setw(16)
        << (r.hasA ? readable(r.a, 6) : "-") << std::setw(16) << (r.hasB ? readable(r.b, 6) : "-") << std::setw(10)
        << (r.hasA && r.hasB ? ratioText(r.a, r.b) : "-") << "\n";
  }
}

Json metricsJson(const Json& a, const Json& b) {
  Json rows = Json::array();
  for (const auto& r : metricRows(a, b)) {
    const MetricInfo* m = findMetric(r.name);
    Json row = {{"metric", r.name}, {"unit", m ? m->unit : "(undeclared)"}, {"a", r.hasA ? Json(r.a) : Json(nullptr)},
                {"b", r.hasB ? Json(r.b) : Json(nullptr)}};
    row["ratio"] = r.hasA && r.hasB && r.a != 0 ? Json(r.b / r.a) : Json(nullptr);
    rows.push_back(row);
  }
  return rows;
}

/// One side of a workload comparison: the step compiled and run (timing only) with a trace.
struct Side {
  ArchConfig config;
  driver::CompiledJob job;
  runtime::BundleRun run;
  std::vector<OpMeasure> perOp;
  Json summary = Json::object();
  std::string error;  ///< why the step cannot be compiled under this configuration (then nothing else is set)
};

Side runSide(const CompileRequest& r, const ArchConfig& config) {
  Side s;
  s.config = config;
  try {
    s.job = driver::compileJob(r, config);
  } catch (const CompileError& e) {
    s.error = e.what();
    return s;
  }
  runtime::RunOptions options;
  options.timingOnly = true;
  options.trace = true;
  s.run = runtime::runBundle(config, s.job.bundle, {}, options);
  if (!s.run.run.error.empty()) throw std::runtime_error("the run failed: " + s.run.run.error);
  s.perOp = measuredPerOp(s.job.lowered[0], s.run.run);
  s.summary = runJson(config, s.run.run, true);
  s.summary["placement"] = s.job.placement;
  s.summary["sram_peak_bytes"] = s.job.sramPeakBytes;
  return s;
}

struct OpRow {
  std::string name;
  std::int64_t a = -1, b = -1;  // -1: not in that program
};

/// The first core's ops of both sides, matched by op and node name, the biggest movers first.
std::vector<OpRow> opRows(const Side& A, const Side& B) {
  std::map<std::string, OpRow> rows;
  std::vector<std::string> order;
  const auto add = [&](const Side& s, bool first) {
    if (!s.error.empty()) return;
    std::map<std::string, int> seen;
    for (std::size_t i = 0; i < s.job.lowered[0].ops.size(); ++i) {
      const OpCost& oc = s.job.lowered[0].ops[i];
      std::string key = oc.op + " " + oc.node;
      if (seen[key]++) key += " #" + std::to_string(seen[key]);
      if (!rows.count(key)) order.push_back(key), rows[key].name = key;
      (first ? rows[key].a : rows[key].b) = std::int64_t(s.perOp[i].cycles);
    }
  };
  add(A, true), add(B, false);
  std::vector<OpRow> out;
  for (const auto& k : order) out.push_back(rows[k]);
  const auto moved = [](const OpRow& r) { return std::llabs(std::max<std::int64_t>(r.b, 0) - std::max<std::int64_t>(r.a, 0)); };
  std::stable_sort(out.begin(), out.end(), [&](const OpRow& x, const OpRow& y) { return moved(x) > moved(y); });
  return out;
}

std::string describeChange(const std::vector<std::string>& sets, const std::string& file) {
  std::string s = file.empty() ? "" : file;
  for (const auto& o : sets) s += (s.empty() ? "" : ", ") + o;
  return s.empty() ? "the same configuration" : s;
}

/// The emulated wafer's step beside N GPUs' estimated one: time, examples per second, and per watt.
int compareWithGpus(const CompileRequest& r, const MachineOptions& machine, const std::string& gpuFile, int gpus, bool json, std::ostream& out,
                    std::ostream& err) {
  const GpuSpec gpu = readGpuSpec(gpuFile);
  const ArchConfig config = machine.resolve();
  const Side wafer = runSide(r, config);
  if (!wafer.error.empty()) {
    err << "tatami compare: the step cannot run on the wafer: " << wafer.error << "\n";
    return kExitBadInput;
  }
  const GpuEstimate g = estimateOnGpus(r, gpu, gpus);
  std::vector<int> cores;
  for (const auto& p : wafer.job.bundle.programs) cores.push_back(p.core);
  const WaferBesideGpus w = besideGpus(config, cores, wafer.run.run.stats.cycles, r.batch, g, gpu);
  const int dies = w.dies;
  if (json) {
    out << Json{{"model", r.model},
                {"batch", r.batch},
                {"wafer", {{"config", machine.origin()}, {"placement", wafer.job.placement}, {"cycles", wafer.run.run.stats.cycles},
                           {"step_seconds", w.wafer.seconds}, {"dies", dies}, {"power_w", w.wafer.watts},
                           {"examples_per_second", w.wafer.examplesPerSecond}, {"examples_per_second_per_w", w.wafer.examplesPerSecondPerW}}},
                {"gpus", {{"gpu", gpu.name}, {"count", gpus}, {"estimate", "roofline"}, {"compute_seconds", g.computeSeconds},
                          {"allreduce_seconds", g.allreduceSeconds}, {"step_seconds", g.stepSeconds}, {"power_w", w.gpus.watts},
                          {"fits_hbm", g.fits}, {"examples_per_second", w.gpus.examplesPerSecond},
                          {"examples_per_second_per_w", w.gpus.examplesPerSecondPerW}}}}
               .dump(2)
        << "\n";
    return kExitOk;
  }
  out << "model " << r.model << ", one training step of batch " << r.batch << "\n";
  out << "wafer: " << machine.origin() << "; " << wafer.job.placement << "; " << wafer.run.run.stats.cycles << " cycles at "
      << readable(config.core.clock_ghz) << " GHz; " << dies << " die(s) x die.power_w " << readable(config.die.power_w) << " W\n";
  out << "GPUs:  " << gpus << " x " << gpu.name << " (" << gpuFile << "), data parallel; an ESTIMATE by the roofline, not a simulation: "
      << "each op the longer of its FLOPs at peak and its bytes at HBM bandwidth, then a ring all-reduce over the links"
      << (g.fits ? "" : "; the step's tensors do NOT fit the GPU's HBM") << "\n";
  out << "       (a lower bound for the GPUs: no kernel launch, no cache misses beyond the roofline, no overlap lost); compute "
      << g.computeSeconds * 1e6 << " us + all-reduce " << g.allreduceSeconds * 1e6 << " us per step\n\n";
  const auto sig = [](double v) {
    std::ostringstream os;
    os.precision(4);
    os << v;
    return os.str();
  };
  const auto row = [&](const std::string& name, double a, double b) {
    std::string n = name;
    n.resize(30, ' ');
    out << n << std::setw(14) << sig(a) << std::setw(14) << sig(b) << std::setw(13) << (a > 0 ? sig(b / a) : "-") << "\n";
  };
  out << "                                       wafer          GPUs   GPUs/wafer\n";
  row("step time (us)", w.wafer.seconds * 1e6, w.gpus.seconds * 1e6);
  row("examples per second", w.wafer.examplesPerSecond, w.gpus.examplesPerSecond);
  row("power (W)", w.wafer.watts, w.gpus.watts);
  row("examples per second per kW", w.wafer.examplesPerSecondPerW * 1000, w.gpus.examplesPerSecondPerW * 1000);
  return kExitOk;
}

}  // namespace

int cmdCompare(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  CompileRequest r;
  MachineOptions machine;
  std::vector<std::string> inputs, vs;
  std::string vsConfig;
  std::size_t opsShown = 20;
  std::string gpuFile;
  int gpus = 1;
  desc.add_options()("help,h", "show this help");
  addStepOptions(desc, r);
  desc.add_options()
      ("vs", po::value<std::vector<std::string>>(&vs)->composing()->value_name("KEY=VALUE"),
       "B is A with this parameter changed (repeatable); A is --config/--set")
      ("vs-config", po::value<std::string>(&vsConfig)->value_name("FILE"), "B's configuration: this INI file (then its --vs changes)")
      ("gpu", po::value<std::string>(&gpuFile)->value_name("FILE"),
       "B is GPUs described by FILE (configs/gpu/*.ini), the step estimated by the roofline (docs/gpu.md)")
      ("gpus", po::value<int>(&gpus)->default_value(1), "with --gpu: GPUs, data parallel over the batch")
      ("ops", po::value<std::size_t>(&opsShown)->default_value(20), "per-op rows shown, the biggest movers first (0: all)")
      ("json", "print one JSON object");
  machine.addTo(desc);
  po::options_description hidden;
  hidden.add_options()("input", po::value<std::vector<std::string>>(&inputs));
  po::positional_options_description pos;
  pos.add("input", 2);
  po::variables_map vm;
  const std::string usage =
      "Usage: tatami compare A.json B.json          (results: --json of run/check/train, or --output HDF5 files)\n"
      "       tatami compare MODEL [step options] [--config A.ini] [--set K=V] --vs K=V [--vs K=V] [--vs-config B.ini]\n"
      "Two results side by side: every metric of both with B/A. For a model, its training step is compiled and run\n"
      "(timing only) under A and under B, and the first core's per-op cycles are listed with the biggest movers first.";
  if (!parseArgs(args, desc, &pos, vm, usage, out, &hidden)) return kExitOk;
  const bool json = vm.count("json") > 0;
  if (inputs.size() == 2) {
    if (!vs.empty() || !vsConfig.empty()) throw UsageError("--vs and --vs-config compare a model under two configurations, not two results");
    const Json a = loadResult(inputs[0]), b = loadResult(inputs[1]);
    if (json) {
      out << Json{{"a", inputs[0]}, {"b", inputs[1]}, {"metrics", metricsJson(a, b)}}.dump(2) << "\n";
      return kExitOk;
    }
    out << "A: " << inputs[0] << "\nB: " << inputs[1] << "\n";
    printMetrics(a, b, "A", "B", out);
    return kExitOk;
  }
  if (inputs.size() != 1) throw UsageError("give two result files, or one model with --vs, --vs-config or --gpu");
  if (!gpuFile.empty() && (!vs.empty() || !vsConfig.empty())) throw UsageError("--gpu compares with GPUs; --vs and --vs-config with another wafer: one of them");
  if (vs.empty() && vsConfig.empty() && gpuFile.empty())
    throw UsageError("comparing a model needs B: --vs KEY=VALUE, --vs-config FILE or --gpu FILE");
  if (vm.count("gpus") && !vm["gpus"].defaulted() && gpuFile.empty()) throw UsageError("--gpus needs --gpu FILE");
  r.model = inputs[0];
  checkStepOptions(r);
  if (!gpuFile.empty()) return compareWithGpus(r, machine, gpuFile, gpus, json, out, err);
  const ArchConfig configA = machine.resolve();
  ArchConfig configB = vsConfig.empty() ? configA : resolveConfig(vsConfig, {});
  for (const auto& o : vs) applyOverride(configB, o, "--vs");
  validate(configB);
  try {
    const Side A = runSide(r, configA), B = runSide(r, configB);
    const std::vector<OpRow> rows = opRows(A, B);
    const std::size_t shown = opsShown == 0 ? rows.size() : std::min(opsShown, rows.size());
    if (json) {
      Json ops = Json::array();
      for (std::size_t i = 0; i < shown; ++i)
        ops.push_back({{"op", rows[i].name}, {"a", rows[i].a < 0 ? Json(nullptr) : Json(rows[i].a)},
                       {"b", rows[i].b < 0 ? Json(nullptr) : Json(rows[i].b)}});
      const auto where = [](const Side& s) { return s.error.empty() ? s.job.placement : "cannot run: " + s.error; };
      out << Json{{"model", r.model}, {"a", machine.origin()}, {"b", describeChange(vs, vsConfig)}, {"a_placement", where(A)},
                  {"b_placement", where(B)}, {"metrics", metricsJson(A.summary, B.summary)}, {"ops", ops}}
                 .dump(2)
          << "\n";
      return kExitOk;
    }
    out << "model " << r.model << ", one training step (timing only)\n";
    out << "A: " << machine.origin() << "; " << (A.error.empty() ? A.job.placement : "cannot run: " + A.error) << "\n";
    out << "B: " << describeChange(vs, vsConfig) << " (on A's other values); " << (B.error.empty() ? B.job.placement : "cannot run: " + B.error)
        << "\n\n";
    printMetrics(A.summary, B.summary, "A", "B", out);
    out << "\nper op on the first core (measured cycles), the biggest movers first:\n";
    std::size_t width = 24;
    for (std::size_t i = 0; i < shown; ++i) width = std::max(width, rows[i].name.size() + 2);
    out << std::left << std::setw(int(width)) << "op" << std::right << std::setw(12) << "A" << std::setw(12) << "B" << std::setw(10) << "B-A"
        << std::setw(9) << "B/A" << "\n";
    const auto cell = [](std::int64_t v) { return v < 0 ? std::string("-") : std::to_string(v); };
    for (std::size_t i = 0; i < shown; ++i) {
      const OpRow& row = rows[i];
      const std::int64_t d = std::max<std::int64_t>(row.b, 0) - std::max<std::int64_t>(row.a, 0);
      out << std::left << std::setw(int(width)) << row.name << std::right << std::setw(12) << cell(row.a) << std::setw(12) << cell(row.b)
          << std::setw(10) << (d > 0 ? "+" : "") + std::to_string(d) << std::setw(9)
          << (row.a > 0 && row.b >= 0 ? readable(double(row.b) / double(row.a), 3) : std::string("-")) << "\n";
    }
    if (shown < rows.size()) out << "(" << rows.size() - shown << " more ops; --ops 0 shows all)\n";
  } catch (const CompileError& e) {
    err << "tatami compare: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::runtime_error& e) {
    err << "tatami compare: " << e.what() << "\n";
    return kExitRunFailed;
  }
  return kExitOk;
}

}  // namespace tatami::cli
