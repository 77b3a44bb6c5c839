// Console and JSON reports of a program run.
#include "run_report.h"

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "format_text.h"

namespace tatami::cli {

namespace {

const Unit kUnits[] = {Unit::Scalar, Unit::Sync, Unit::Vector, Unit::Matrix, Unit::Dma};

std::string shapeText(const std::vector<std::uint64_t>& shape) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

/// "3 -> 7 -> 11": a path's cores, the middle left out when there are many.
std::string pathText(const std::vector<int>& cores) {
  std::string out;
  for (std::size_t i = 0; i < cores.size(); ++i) {
    if (cores.size() > 8 && i == 3) {
      out += " -> ... (" + std::to_string(cores.size() - 6) + " more)";
      i = cores.size() - 4;
      continue;
    }
    out += (i ? " -> " : "") + std::to_string(cores[i]);
  }
  return out;
}

}  // namespace

void printBreakdownText(const runtime::Breakdown& b, std::ostream& out) {
  if (!b.all.cores) return;
  out << "where cycles went   " << runtime::Breakdown::shares(b.all.cycles, double(b.cycles)) << " (mean of "
      << b.all.cores << " core" << (b.all.cores > 1 ? "s" : "") << ")\n";
  if (b.dataLoadInFlight > 0) {
    const double exposed = b.all.cycles[std::size_t(tlm::Activity::DataLoad)];
    char line[160];
    std::snprintf(line, sizeof line, "data in flight      %.0f cycles per core, %.1f%% of them hidden behind other work\n", b.dataLoadInFlight,
                  100.0 * (b.dataLoadInFlight - exposed) / b.dataLoadInFlight);
    out << line;
  }
  if (b.dies.size() > 1)
    for (const auto& d : b.dies)
      out << "  die " << d.die << ", " << d.cores << " cores: " << runtime::Breakdown::shares(d.cycles, double(b.cycles)) << "\n";
  out << "critical path       " << (b.critical.cores.size() > 1 ? "cores " : "core ") << pathText(b.critical.cores) << " ("
      << b.critical.transfers << " transfer" << (b.critical.transfers == 1 ? "" : "s") << "): "
      << runtime::Breakdown::shares(runtime::asDouble(b.critical.cycles), double(b.cycles)) << "\n";
}

std::string hashText(std::uint64_t h) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

nlohmann::ordered_json runJson(const ArchConfig& config, const runtime::RunResult& r, bool timingOnly) {
  const auto& s = r.stats;
  nlohmann::ordered_json j;
  j["ok"] = r.error.empty();
  if (!r.error.empty()) j["error"] = r.error;
  j["cycles"] = s.cycles;
  j["simulated_seconds"] = double(s.cycles) / (config.core.clock_ghz * 1e9);
  j["flop_count"] = s.matrixFlops + s.vectorFlops;
  j["useful_matrix_flops"] = r.usefulFlops();
  j["useful_from"] = r.usefulMatrixFlops ? "graph" : "program";
  j["issued_matrix_flops"] = s.matrixFlops;
  j["vector_flops"] = s.vectorFlops;
  j["matrix_utilization"] = r.matrixUtilization(config);
  j["issued_utilization"] = r.issuedUtilization(config);
  j["cores_used"] = r.coresUsed;
  j["instructions"] = s.instructions;
  j["timing_only"] = timingOnly;
  nlohmann::ordered_json units;
  for (Unit u : kUnits)
    units[unitName(u)] = {{"busy_cycles", s.unitBusy[std::size_t(u)]}, {"instructions", s.unitInstructions[std::size_t(u)]}};
  j["units"] = units;
  nlohmann::ordered_json ports;
  for (std::size_t p = 0; p < s.readPortBusy.size(); ++p) ports["sram_read" + std::to_string(p)] = s.readPortBusy[p];
  for (std::size_t p = 0; p < s.writePortBusy.size(); ++p) ports["sram_write" + std::to_string(p)] = s.writePortBusy[p];
  ports["noc_read"] = s.nocReadBusy;
  ports["noc_write"] = s.nocWriteBusy;
  j["port_busy_cycles"] = ports;
  nlohmann::ordered_json threads = nlohmann::ordered_json::array();
  for (std::size_t t = 0; t < s.threads.size(); ++t) {
    const auto& th = s.threads[t];
    if (th.instructions == 0 && th.stallSemaphore == 0) continue;
    threads.push_back({{"thread", t},
                       {"instructions", th.instructions},
                       {"stall_cycles",
                        {{"hazard", th.stallHazard},
                         {"unit", th.stallUnit},
                         {"port", th.stallPort},
                         {"semaphore", th.stallSemaphore},
                         {"barrier", th.stallBarrier}}}});
  }
  j["threads"] = threads;
  nlohmann::ordered_json outs = nlohmann::ordered_json::array();
  for (const auto& o : r.outputs)
    outs.push_back({{"name", o.name},
                    {"address", o.addr},
                    {"type", dtypeName(o.type)},
                    {"shape", o.shape},
                    {"hash", hashText(runtime::fnv1a(o.bytes))}});
  j["outputs"] = outs;
  const auto& n = r.network;
  nlohmann::ordered_json net = {{"packets", n.packets}, {"bytes", n.bytes}, {"hbm_bytes_read", n.hbmBytesRead},
                                {"hbm_bytes_written", n.hbmBytesWritten}};
  nlohmann::ordered_json edges = nlohmann::ordered_json::array();
  for (const auto& e : n.edges) edges.push_back({{"edge", e.name}, {"packets", e.packets}, {"bytes", e.bytes}, {"busy_cycles", e.busyCycles}});
  net["die_edges"] = edges;
  nlohmann::ordered_json links = nlohmann::ordered_json::array();
  for (const auto& l : n.links)
    links.push_back({{"link", l.name}, {"packets", l.packets}, {"bytes", l.bytes}, {"busy_cycles", l.busyCycles}, {"peak_queue", l.peakQueue}});
  net["links"] = links;
  nlohmann::ordered_json routers = nlohmann::ordered_json::array();
  for (const auto& rr : n.routers) routers.push_back({{"router", rr.name}, {"packets", rr.packets}});
  net["routers"] = routers;
  j["network"] = net;
  j["breakdown"] = runtime::breakdownJson(r.breakdown);
  j["output_hash"] = hashText(r.outputHash);
  j["host_seconds"] = r.hostSeconds;
  return j;
}

nlohmann::ordered_json regressionMetrics(const runtime::RunResult& r) {
  const auto& s = r.stats;
  nlohmann::ordered_json m;
  m["cycles"] = s.cycles;
  m["instructions"] = s.instructions;
  for (Unit u : kUnits) m[std::string(unitName(u)) + "_busy_cycles"] = s.unitBusy[std::size_t(u)];
  for (std::size_t p = 0; p < s.readPortBusy.size(); ++p) m["sram_read" + std::to_string(p) + "_busy_cycles"] = s.readPortBusy[p];
  for (std::size_t p = 0; p < s.writePortBusy.size(); ++p) m["sram_write" + std::to_string(p) + "_busy_cycles"] = s.writePortBusy[p];
  std::uint64_t hazard = 0, unit = 0, port = 0, sem = 0, bar = 0;
  for (const auto& t : s.threads)
    hazard += t.stallHazard, unit += t.stallUnit, port += t.stallPort, sem += t.stallSemaphore, bar += t.stallBarrier;
  m["stall_hazard_cycles"] = hazard;
  m["stall_unit_cycles"] = unit;
  m["stall_port_cycles"] = port;
  m["stall_semaphore_cycles"] = sem;
  m["stall_barrier_cycles"] = bar;
  // The breakdown: each activity's cycles summed over the cores, and the critical path's.
  const auto key = [](int column) {
    std::string k = runtime::breakdownColumnName(column);
    std::replace(k.begin(), k.end(), '-', '_');
    return k + "_cycles";
  };
  std::array<std::uint64_t, tlm::kActivities> activity{};
  for (const auto& [core, st] : r.perCore)
    for (int k = 0; k < tlm::kActivities; ++k) activity[std::size_t(k)] += st.activity[std::size_t(k)];
  for (int k = 0; k < tlm::kActivities; ++k) m[key(k)] = activity[std::size_t(k)];
  for (int k = 0; k < runtime::kBreakdownColumns; ++k)
    m["critical_path_" + key(k)] = r.breakdown.critical.cycles[std::size_t(k)];
  if (r.usefulMatrixFlops) m["useful_matrix_flops"] = *r.usefulMatrixFlops;
  m["issued_matrix_flops"] = s.matrixFlops;
  m["vector_flops"] = s.vectorFlops;
  m["output_hash"] = hashText(r.outputHash);
  return m;
}

void printRunText(const ArchConfig& config, const runtime::RunResult& r, bool timingOnly, std::ostream& out) {
  const auto& s = r.stats;
  // Busy cycles are summed over the cores that ran: a percentage is of all their cycles.
  const double cores = double(std::max<std::size_t>(1, r.perCore.size()));
  const auto pct = [&](std::uint64_t busy) {
    return s.cycles ? readable(100.0 * double(busy) / (double(s.cycles) * cores), 1) + "%" : std::string("-");
  };
  out << "cycles              " << s.cycles << " (" << readable(double(s.cycles) / (config.core.clock_ghz * 1e3), 3)
      << " us at " << readable(config.core.clock_ghz) << " GHz)" << (timingOnly ? "  [timing only]" : "") << "\n";
  out << "instructions        " << s.instructions << "\n";
  out << "FLOPs issued        " << s.matrixFlops + s.vectorFlops << " (matrix " << s.matrixFlops << ", vector "
      << s.vectorFlops << ")\n";
  out << "matrix FLOPs useful " << r.usefulFlops()
      << (r.usefulMatrixFlops ? " (the graph's matrix products, before padding to tiles)" : " (a program without a graph: as issued)") << "\n";
  out << "matrix utilization  " << readable(r.matrixUtilization(config), 4) << " of useful work (issued "
      << readable(r.issuedUtilization(config), 4) << ")\n";
  out << "unit busy cycles:" << (cores > 1 ? " (summed over " + std::to_string(r.perCore.size()) + " cores)" : std::string()) << "\n";
  for (Unit u : kUnits) {
    std::string name = unitName(u);
    name.resize(8, ' ');
    out << "  " << name << s.unitBusy[std::size_t(u)] << " (" << pct(s.unitBusy[std::size_t(u)]) << "), "
        << s.unitInstructions[std::size_t(u)] << " instructions\n";
  }
  out << "port busy cycles:  ";
  for (std::size_t p = 0; p < s.readPortBusy.size(); ++p) out << " read" << p << " " << s.readPortBusy[p] << " (" << pct(s.readPortBusy[p]) << ")";
  for (std::size_t p = 0; p < s.writePortBusy.size(); ++p) out << " write" << p << " " << s.writePortBusy[p] << " (" << pct(s.writePortBusy[p]) << ")";
  out << " noc-read " << s.nocReadBusy << " noc-write " << s.nocWriteBusy << "\n";
  out << "threads (instructions; stall cycles: hazard unit port semaphore barrier):\n";
  for (std::size_t t = 0; t < s.threads.size(); ++t) {
    const auto& th = s.threads[t];
    if (th.instructions == 0 && th.stallSemaphore == 0) continue;
    out << "  t" << t << "  " << th.instructions << ";  " << th.stallHazard << " " << th.stallUnit << " " << th.stallPort
        << " " << th.stallSemaphore << " " << th.stallBarrier << "\n";
  }
  for (const auto& o : r.outputs)
    out << "output " << o.name << "  " << dtypeName(o.type) << " " << shapeText(o.shape) << " at " << o.addr << "  hash "
        << hashText(runtime::fnv1a(o.bytes)) << "\n";
  if (r.network.packets) {
    out << "network             " << r.network.packets << " packets, " << r.network.bytes << " bytes injected; "
        << r.network.links.size() << " links used";
    if (!r.network.links.empty())
      out << ", busiest " << r.network.links.front().name << " (" << r.network.links.front().busyCycles << " cycles)";
    out << "\n";
    for (const auto& e : r.network.edges)
      out << "  die edge " << e.name << ": " << e.packets << " packets, " << e.bytes << " bytes, " << e.busyCycles << " busy cycles\n";
  }
  if (r.network.hbmBytesRead + r.network.hbmBytesWritten)
    out << "HBM                 " << r.network.hbmBytesRead << " bytes read, " << r.network.hbmBytesWritten << " written\n";
  printBreakdownText(r.breakdown, out);
  out << "host time           " << readable(r.hostSeconds, 3) << " s\n";
}

namespace {

/// The numeric leaves of a result, by their path ("units.dma.busy_cycles").
void flatten(const nlohmann::ordered_json& j, const std::string& prefix, std::vector<std::pair<std::string, double>>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      // Where outputs lie, a record's own key and the ids of a path's cores: not metrics.
      if (k == "outputs" || k == "thread" || (k == "cores" && v.is_array())) continue;
      flatten(v, prefix.empty() ? k : prefix + "." + k, out);
    }
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      const nlohmann::ordered_json& e = j[i];
      // Records keyed by a thread number or a tensor name keep the key in the path; records by
      // position (every link, router, die edge) are a picture of the mesh, not metrics to set side by side.
      std::string key;
      if (e.is_object() && e.contains("thread")) key = "thread" + e["thread"].dump();
      else if (e.is_object() && e.contains("tensor") && e["tensor"].is_string()) key = e["tensor"].get<std::string>();
      else if (e.is_object() && e.contains("die") && e["die"].is_string()) key = "die" + e["die"].get<std::string>();
      else if (e.is_object()) continue;
      else key = std::to_string(i);
      flatten(e, prefix + "." + key, out);
    }
  } else if (j.is_number()) {
    out.emplace_back(prefix, j.get<double>());
  }
}

}  // namespace

std::vector<std::pair<std::string, double>> metricLeaves(const nlohmann::ordered_json& j) {
  std::vector<std::pair<std::string, double>> out;
  flatten(j, "", out);
  return out;
}

}  // namespace tatami::cli
