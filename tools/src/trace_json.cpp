// Trace-event JSON ("ph": "X" complete events; timestamps in microseconds at the core clock).
#include "trace_json.h"

#include <nlohmann/json.hpp>

namespace tatami::cli {

std::string traceJson(const ArchConfig& config, const runtime::RunResult& result) {
  const double usPerCycle = 1.0 / (config.core.clock_ghz * 1e3);
  nlohmann::json events = nlohmann::json::array();
  // Track ids: 0..3 the threads (scalar and sync work), 10 vector, 11 matrix, 12 DMA, 13 what the
  // core's cycles went to (the step's breakdown: runtime/breakdown.h).
  const auto track = [](const tlm::TraceSlice& s) {
    switch (s.unit) {
      case Unit::Vector: return 10;
      case Unit::Matrix: return 11;
      case Unit::Dma: return 12;
      default: return int(s.thread);
    }
  };
  for (const auto& t : result.traces) {
    events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", t.core}, {"args", {{"name", "core " + std::to_string(t.core)}}}});
    for (int th = 0; th < kThreadsMax; ++th)
      events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", t.core}, {"tid", th},
                        {"args", {{"name", "thread " + std::to_string(th)}}}});
    for (const auto& [tid, name] : std::vector<std::pair<int, const char*>>{{10, "vector unit"}, {11, "matrix unit"}, {12, "DMA engine"}, {13, "activity"}})
      events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", t.core}, {"tid", tid}, {"args", {{"name", name}}}});
    for (const auto& s : t.slices) {
      const std::string text = s.pc < t.instructionText.size() ? t.instructionText[s.pc] : "?";
      events.push_back({{"ph", "X"},
                        {"name", text.substr(0, text.find(' '))},
                        {"pid", t.core},
                        {"tid", track(s)},
                        {"ts", double(s.start) * usPerCycle},
                        {"dur", double(s.cycles) * usPerCycle},
                        {"args", {{"pc", s.pc}, {"instruction", text}, {"thread", s.thread}, {"cycles", s.cycles}, {"start_cycle", s.start}}}});
    }
    for (const auto& a : t.activity)
      events.push_back({{"ph", "X"},
                        {"name", tlm::activityName(a.activity)},
                        {"pid", t.core},
                        {"tid", 13},
                        {"ts", double(a.start) * usPerCycle},
                        {"dur", double(a.end - a.start) * usPerCycle},
                        {"args", {{"cycles", a.end - a.start}, {"start_cycle", a.start}}}});
  }
  // The breakdown and the critical path, as an instant event at the start of the step.
  {
    const runtime::Breakdown& b = result.breakdown;
    nlohmann::json mean, path;
    for (int k = 0; k < runtime::kBreakdownColumns; ++k) {
      mean[runtime::breakdownColumnName(k)] = b.all.cycles[std::size_t(k)];
      path[runtime::breakdownColumnName(k)] = b.critical.cycles[std::size_t(k)];
    }
    path["cores"] = b.critical.cores;
    path["transfers"] = b.critical.transfers;
    events.push_back({{"ph", "i"}, {"s", "g"}, {"name", "step breakdown"}, {"pid", 0}, {"ts", 0.0},
                      {"args", {{"cycles", b.cycles}, {"mean_per_core", mean}, {"critical_path", path}}}});
  }
  // Per link class: the mean utilization (busy cycles / run cycles) of the links of that class
  // that carried traffic, as a counter over the run, in a process of its own.
  const auto& net = result.network;
  struct Class {
    const char* name;
    std::uint64_t links = 0, busy = 0, bytes = 0;
  };
  std::vector<Class> classes = {{"mesh links"}, {"injection ports"}, {"ejection ports"}, {"die-edge crossings"}};
  const auto ends = [](const std::string& n, const std::string& tail) {
    return n.size() >= tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (const auto& l : net.links) {
    Class& c = classes[ends(l.name, ".inject") ? 1 : ends(l.name, ".eject") ? 2 : 0];
    ++c.links, c.busy += l.busyCycles, c.bytes += l.bytes;
  }
  for (const auto& e : net.edges) ++classes[3].links, classes[3].busy += e.busyCycles, classes[3].bytes += e.bytes;
  const int meshPid = 1 << 20;
  events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", meshPid}, {"args", {{"name", "mesh"}}}});
  const double cycles = double(std::max<std::uint64_t>(result.stats.cycles, 1));
  for (const Class& c : classes) {
    if (!c.links) continue;
    const double u = double(c.busy) / (double(c.links) * cycles);
    for (const double ts : {0.0, cycles * usPerCycle})
      events.push_back({{"ph", "C"}, {"name", c.name}, {"pid", meshPid}, {"ts", ts},
                        {"args", {{"utilization", u}}}});
    events.push_back({{"ph", "i"}, {"s", "p"}, {"name", std::string(c.name) + " summary"}, {"pid", meshPid}, {"ts", 0.0},
                      {"args", {{"links_used", c.links}, {"busy_cycles", c.busy}, {"bytes", c.bytes}, {"utilization", u}}}});
  }
  return nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ns"}}.dump() + "\n";
}

}  // namespace tatami::cli
