#include "tatami/runtime/breakdown.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace tatami::runtime {

const char* breakdownColumnName(int column) {
  return column < tlm::kActivities ? tlm::activityName(tlm::Activity(column)) : "idle";
}

std::string Breakdown::shares(const std::array<double, kBreakdownColumns>& cycles, double total) {
  std::string out;
  for (int k = 0; k < kBreakdownColumns; ++k) {
    const double share = total > 0 ? 100.0 * cycles[std::size_t(k)] / total : 0;
    if (share < 0.05) continue;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s %.1f%%", out.empty() ? "" : ", ", breakdownColumnName(k), share);
    out += buf;
  }
  return out;
}

namespace {

/// One core's columns over [0, stepCycles): its activities, and idle for the rest.
std::array<std::uint64_t, kBreakdownColumns> coreColumns(const CoreActivity& c, std::uint64_t from, std::uint64_t to) {
  std::array<std::uint64_t, kBreakdownColumns> n{};
  const auto a = tlm::countActivities(*c.segments, from, to);
  std::uint64_t busy = 0;
  for (int k = 0; k < tlm::kActivities; ++k) n[std::size_t(k)] = a[std::size_t(k)], busy += a[std::size_t(k)];
  n[tlm::kActivities] = (to - from) - busy;
  return n;
}

Breakdown::CriticalPath criticalPath(const std::vector<CoreActivity>& cores, std::uint64_t stepCycles) {
  Breakdown::CriticalPath path;
  std::map<int, const CoreActivity*> byId;
  std::size_t allWaits = 0;
  const CoreActivity* at = nullptr;
  for (const CoreActivity& c : cores) {
    byId[c.core] = &c;
    allWaits += c.waits->size();
    if (!at || c.cycles > at->cycles) at = &c;  // ties: the first in id order
  }
  std::uint64_t t = stepCycles;
  std::vector<int> backwards;
  for (std::size_t guard = 0; at && guard <= allWaits; ++guard) {
    backwards.push_back(at->core);
    // The latest wait on this core that a transfer ended by t, issued before t.
    const std::vector<tlm::WaitRecord>& w = *at->waits;
    const tlm::WaitRecord* last = nullptr;
    for (const tlm::WaitRecord& r : w)
      if (r.end <= t && r.sent < t && (!last || r.end > last->end)) last = &r;
    const auto onCore = coreColumns(*at, last ? last->end : 0, t);
    for (int k = 0; k < kBreakdownColumns; ++k) path.cycles[std::size_t(k)] += onCore[std::size_t(k)];
    if (!last) break;
    path.cycles[std::size_t(last->carried)] += last->end - last->sent;
    path.transfers += 1;
    t = last->sent;
    auto next = byId.find(last->otherCore);
    at = next == byId.end() ? nullptr : next->second;
    if (!at) path.cycles[tlm::kActivities] += t;  // a core without a program sent it: nothing to follow
  }
  for (auto it = backwards.rbegin(); it != backwards.rend(); ++it)
    if (path.cores.empty() || path.cores.back() != *it) path.cores.push_back(*it);
  return path;
}

}  // namespace

Breakdown computeBreakdown(const ArchConfig& config, const std::vector<CoreActivity>& cores) {
  Breakdown b;
  for (const CoreActivity& c : cores) b.cycles = std::max(b.cycles, c.cycles);
  b.all.die = "all";
  std::map<int, Breakdown::Row> dies;
  for (const CoreActivity& c : cores) {
    const auto n = coreColumns(c, 0, b.cycles);
    const int die = dieOfCore(config, c.core);
    Breakdown::Row& row = dies[die];
    row.die = dieName(config, die);
    row.cores += 1, b.all.cores += 1;
    b.dataLoadInFlight += double(c.dataLoadInFlight);
    for (int k = 0; k < kBreakdownColumns; ++k) row.cycles[std::size_t(k)] += double(n[std::size_t(k)]), b.all.cycles[std::size_t(k)] += double(n[std::size_t(k)]);
  }
  const auto mean = [](Breakdown::Row& r) {
    for (double& v : r.cycles) v /= double(std::max(1, r.cores));
  };
  for (auto& [die, row] : dies) mean(row), b.dies.push_back(row);
  b.dataLoadInFlight /= double(std::max(1, b.all.cores));
  mean(b.all);
  if (!cores.empty()) b.critical = criticalPath(cores, b.cycles);
  return b;
}

std::array<double, kBreakdownColumns> asDouble(const std::array<std::uint64_t, kBreakdownColumns>& v) {
  std::array<double, kBreakdownColumns> d{};
  for (std::size_t k = 0; k < v.size(); ++k) d[k] = double(v[k]);
  return d;
}

namespace {

nlohmann::ordered_json columnsJson(const std::array<double, kBreakdownColumns>& cycles) {
  nlohmann::ordered_json j;
  for (int k = 0; k < kBreakdownColumns; ++k) j[breakdownColumnName(k)] = cycles[std::size_t(k)];
  return j;
}

}  // namespace

nlohmann::ordered_json breakdownJson(const Breakdown& b) {
  nlohmann::ordered_json j;
  j["cycles"] = b.cycles;
  j["all"] = columnsJson(b.all.cycles);
  j["all"]["cores"] = b.all.cores;
  nlohmann::ordered_json dies = nlohmann::ordered_json::array();
  for (const auto& d : b.dies) {
    nlohmann::ordered_json row = {{"die", d.die}, {"cores", d.cores}};
    row.update(columnsJson(d.cycles));
    dies.push_back(row);
  }
  j["dies"] = dies;
  j["data_load_in_flight"] = b.dataLoadInFlight;
  nlohmann::ordered_json path = {{"cores", b.critical.cores}, {"transfers", b.critical.transfers}};
  path.update(columnsJson(asDouble(b.critical.cycles)));
  j["critical_path"] = path;
  return j;
}

}  // namespace tatami::runtime
