// A sweep's spec and its points (see sweep_spec.h).
#include "sweep_spec.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "command.h"
#include "run_report.h"
#include "step_options.h"
#include "tatami/arch/assembler.h"
#include "tatami/arch/config_files.h"
#include "tatami/driver/job.h"
#include "tatami/runtime/bundle.h"

namespace tatami::cli {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> splitList(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep))
    if (!trim(item).empty()) out.push_back(trim(item));
  return out;
}

/// FROM:TO:STEP, inclusive, as numbers written without trailing zeros.
std::vector<std::string> rangeValues(const std::string& text, const std::string& where) {
  const std::vector<std::string> parts = splitList(text, ':');
  double from = 0, to = 0, step = 0;
  try {
    if (parts.size() != 3) throw std::invalid_argument("parts");
    from = std::stod(parts[0]), to = std::stod(parts[1]), step = std::stod(parts[2]);
  } catch (const std::logic_error&) {
    throw InputError(where + "range '" + text + "': expected FROM:TO:STEP (numbers)");
  }
  if (!(step > 0) || !std::isfinite(from) || !std::isfinite(to) || to < from)
    throw InputError(where + "range '" + text + "': needs FROM <= TO and a STEP above 0");
  if ((to - from) / step > 10000) throw InputError(where + "range '" + text + "': more than 10,000 values");
  std::vector<std::string> out;
  for (long i = 0;; ++i) {
    const double v = from + double(i) * step;
    if (v > to + 1e-9 * std::max(1.0, std::fabs(to))) break;
    std::ostringstream os;
    os.precision(12);
    os << v;
    out.push_back(os.str());
  }
  return out;
}

}  // namespace

SweepSpec readSweepSpec(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw InputError("cannot read sweep spec '" + path + "'");
  SweepSpec spec;
  spec.path = path;
  std::string line, section, arg;
  int number = 0;
  while (std::getline(f, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') throw InputError(where + "a section header ends with ']'");
      const std::string head = trim(line.substr(1, line.size() - 2));
      const auto space = head.find(' ');
      section = head.substr(0, space), arg = space == std::string::npos ? "" : trim(head.substr(space + 1));
      if (section == "sweep") {
        if (!arg.empty()) throw InputError(where + "[sweep] takes no name");
      } else if (section == "axis") {
        if (!findParam(arg)) throw InputError(where + "[axis " + arg + "]: no machine parameter '" + arg + "' (tatami info --describe lists them)");
        for (const auto& a : spec.axes)
          if (a.key == arg) throw InputError(where + "[axis " + arg + "] is given twice");
        spec.axes.push_back({arg, {}});
      } else if (section == "workload") {
        if (arg.empty()) throw InputError(where + "a workload needs a name: [workload NAME]");
        for (const auto& w : spec.workloads)
          if (w.name == arg) throw InputError(where + "[workload " + arg + "] is given twice");
        spec.workloads.push_back({});
        spec.workloads.back().name = arg;
      } else {
        throw InputError(where + "unknown section [" + head + "] (sweep, axis KEY, workload NAME)");
      }
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw InputError(where + "expected 'key = value'");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (section.empty()) throw InputError(where + "'" + key + "' before any section ([sweep], [axis KEY], [workload NAME])");
    if (section == "sweep") {
      if (key == "config") spec.configFile = value;
      else if (key == "set") {
        for (const auto& s : splitList(value, ';')) spec.sets.push_back(s);
      } else if (key == "combine") {
        if (value != "cross" && value != "zip") throw InputError(where + "combine = '" + value + "': cross or zip");
        spec.zip = value == "zip";
      } else {
        throw InputError(where + "unknown key '" + key + "' in [sweep] (config, set, combine)");
      }
    } else if (section == "axis") {
      SweepAxis& a = spec.axes.back();
      if (!a.values.empty()) throw InputError(where + "[axis " + a.key + "] has its values already");
      if (key == "values") a.values = splitList(value, ',');
      else if (key == "range") a.values = rangeValues(value, where);
      else throw InputError(where + "unknown key '" + key + "' in [axis " + a.key + "] (values, range)");
      ArchConfig probe;
      for (const auto& v : a.values) setParam(probe, a.key, v, where + a.key);  // each value must be valid alone
    } else {
      SweepWorkload& w = spec.workloads.back();
      try {
        if (key == "program") w.kind = SweepWorkload::Kind::Program, w.program = value;
        else if (key == "traffic") w.kind = SweepWorkload::Kind::Traffic, w.traffic.pattern = value;
        else if (key == "rate") w.traffic.rate = std::stod(value);
        else if (key == "packets") w.traffic.packets = std::stoull(value);
        else if (key == "warmup") w.traffic.warmupCycles = std::stoull(value);
        else if (key == "measure") w.traffic.measureCycles = std::stoull(value);
        else if (!setStepKey(w.request, key, value, where))
          throw InputError(where + "unknown key '" + key + "' in [workload " + w.name +
                           "] (a model: model, batch, loss, optimizer, lr, momentum, weight_decay, precision, slice, grid, replicas; a program: "
                           "program; traffic: traffic, rate, packets, warmup, measure)");
      } catch (const std::logic_error&) {
        throw InputError(where + "'" + key + "' = '" + value + "' is not a number");
      }
    }
  }
  if (spec.workloads.empty()) throw InputError(path + ": no workload ([workload NAME] with model, program or traffic)");
  for (const auto& w : spec.workloads) {
    if (w.kind == SweepWorkload::Kind::Model && w.request.model.empty())
      throw InputError(path + ": [workload " + w.name + "] names no model, program or traffic");
    if (w.kind == SweepWorkload::Kind::Model) checkStepOptions(w.request);
  }
  for (const auto& a : spec.axes)
    if (a.values.empty()) throw InputError(path + ": [axis " + a.key + "] has no values (values = a, b, c or range = FROM:TO:STEP)");
  if (spec.zip)
    for (const auto& a : spec.axes)
      if (a.values.size() != spec.axes.front().values.size())
        throw InputError(path + ": combine = zip needs axes of one length: " + spec.axes.front().key + " has " +
                         std::to_string(spec.axes.front().values.size()) + " values, " + a.key + " " + std::to_string(a.values.size()));
  // The base must resolve (and so must every point; checked when it runs).
  try {
    resolveConfig(spec.configFile, spec.sets);
  } catch (const ConfigError& e) {
    throw InputError(path + ": the base configuration: " + e.what());
  }
  return spec;
}

std::vector<SweepPoint> sweepPoints(const SweepSpec& spec) {
  std::size_t combos = spec.axes.empty() ? 1 : spec.zip ? spec.axes.front().values.size() : 1;
  if (!spec.zip)
    for (const auto& a : spec.axes) combos *= a.values.size();
  std::string base = "config=" + (spec.configFile.empty() ? std::string("(D1 preset)") : spec.configFile);
  for (const auto& s : spec.sets) base += "; set " + s;
  std::vector<SweepPoint> points;
  for (const SweepWorkload& w : spec.workloads)
    for (std::size_t c = 0; c < combos; ++c) {
      SweepPoint p;
      p.index = points.size(), p.workload = &w;
      std::size_t rest = c;
      std::vector<std::size_t> pick(spec.axes.size());
      for (std::size_t a = spec.axes.size(); a-- > 0;) {
        const std::size_t n = spec.axes[a].values.size();
        pick[a] = spec.zip ? c : rest % n;
        rest /= spec.zip ? 1 : n;
      }
      for (std::size_t a = 0; a < spec.axes.size(); ++a) p.params.emplace_back(spec.axes[a].key, spec.axes[a].values[pick[a]]);
      std::ostringstream d;
      d << base << "; workload " << w.name << ": ";
      if (w.kind == SweepWorkload::Kind::Program) d << "program " << w.program;
      else if (w.kind == SweepWorkload::Kind::Traffic)
        d << "traffic " << w.traffic.pattern << " rate " << w.traffic.rate << " packets " << w.traffic.packets << " warmup "
          << w.traffic.warmupCycles << " measure " << w.traffic.measureCycles;
      else
        d << "model " << w.request.model << " batch " << w.request.batch << " loss " << w.request.loss << " optimizer "
          << w.request.optimizer.kind << " lr " << w.request.optimizer.learningRate << " precision " << w.request.precision << " slice "
          << w.request.slice << " grid " << w.request.grid;
      for (const auto& [k, v] : p.params) d << "; " << k << "=" << v;
      p.describe = d.str();
      points.push_back(std::move(p));
    }
  return points;
}

ArchConfig pointConfig(const SweepSpec& spec, const SweepPoint& point) {
  std::vector<std::string> sets = spec.sets;
  for (const auto& [k, v] : point.params) sets.push_back(k + "=" + v);
  return resolveConfig(spec.configFile, sets);
}

nlohmann::ordered_json measurePoint(const SweepSpec& spec, const SweepPoint& point) {
  const ArchConfig config = pointConfig(spec, point);
  const SweepWorkload& w = *point.workload;
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  runtime::RunOptions options;
  options.timingOnly = true;
  if (w.kind == SweepWorkload::Kind::Traffic) {
    const runtime::TrafficPoint t = runtime::runTraffic(config, w.traffic);
    m["offered_rate"] = t.offeredRate, m["accepted_rate"] = t.acceptedRate, m["avg_latency_cycles"] = t.avgLatencyCycles;
    m["p99_latency_cycles"] = t.p99LatencyCycles, m["transfers_measured"] = t.transfersMeasured, m["packet_hops"] = t.packetHops;
    m["nodes"] = t.nodes, m["host_seconds"] = t.hostSeconds;
    return m;
  }
  runtime::RunResult run;
  if (w.kind == SweepWorkload::Kind::Program) {
    run = runtime::runProgram(config, loadProgramFile(w.program), options);
  } else {
    const driver::CompiledJob job = driver::compileJob(w.request, config);
    m["placement"] = job.placement;
    m["cores"] = job.bundle.programs.size();
    m["sram_peak_bytes"] = job.sramPeakBytes;
    run = runtime::runBundle(config, job.bundle, {}, options).run;
  }
  if (!run.error.empty()) throw std::runtime_error(run.error);
  for (const auto& [k, v] : metricLeaves(runJson(config, run, true))) m[k] = v;
  return m;
}

}  // namespace tatami::cli
