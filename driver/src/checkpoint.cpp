// The run file schema of training (checkpoints and finished runs): writing and reading.
#include "tatami/driver/checkpoint.h"

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tatami/runtime/results.h"

namespace tatami::driver {

namespace {

/// The last step's statistics: per core (unit busy cycles, stall cycles by cause) and per link.
void addStatistics(const runtime::RunResult& run, std::vector<runtime::NamedArray>& arrays, std::string& linkNamesJson) {
  const Unit units[] = {Unit::Scalar, Unit::Sync, Unit::Vector, Unit::Matrix, Unit::Dma};
  for (const auto& [core, st] : run.perCore) {
    std::vector<double> busy, stalls(5, 0.0);
    for (Unit u : units) busy.push_back(double(st.unitBusy[std::size_t(u)]));
    for (const auto& th : st.threads)
      stalls[0] += double(th.stallHazard), stalls[1] += double(th.stallUnit), stalls[2] += double(th.stallPort),
          stalls[3] += double(th.stallSemaphore), stalls[4] += double(th.stallBarrier);
    const std::string c = "stats/core_" + std::to_string(core);
    arrays.push_back({c + "/unit_busy_cycles", {5}, busy});
    std::vector<double> activity;
    for (std::uint64_t v : st.activity) activity.push_back(double(v));
    arrays.push_back({c + "/activity_cycles", {activity.size()}, activity});
    arrays.push_back({c + "/stall_cycles", {5}, stalls});
    arrays.push_back({c + "/cycles", {1}, {double(st.cycles)}});
  }
  nlohmann::json names = nlohmann::json::array();
  std::vector<double> packets, bytes, busy;
  for (const auto& l : run.network.links)
    names.push_back(l.name), packets.push_back(double(l.packets)), bytes.push_back(double(l.bytes)), busy.push_back(double(l.busyCycles));
  arrays.push_back({"stats/link_packets", {packets.size()}, packets});
  arrays.push_back({"stats/link_bytes", {bytes.size()}, bytes});
  arrays.push_back({"stats/link_busy_cycles", {busy.size()}, busy});
  linkNamesJson = names.dump();
}

}  // namespace

void writeRunFile(const std::string& path, const TrainState& state, const RunFileSummary& about) {
  std::vector<runtime::NamedArray> arrays = {{"next_step", {1}, {double(state.nextStep)}},
                                             {"loss", {state.loss.size()}, state.loss},
                                             {"cycles", {state.cycles.size()}, state.cycles},
                                             {"epoch_accuracy", {state.epochAccuracy.size()}, state.epochAccuracy},
                                             {"epoch_eval_cycles", {state.epochEvalCycles.size()}, state.epochEvalCycles},
                                             {"step_breakdown", {state.loss.size(), state.breakdownDies.size(), std::size_t(runtime::kBreakdownColumns)}, state.stepBreakdown},
                                             {"step_critical_path", {state.loss.size(), std::size_t(runtime::kBreakdownColumns)}, state.stepCriticalPath},
                                             {"step_breakdown_die_cores", {state.breakdownDieCores.size()}, state.breakdownDieCores},
                                             {"host/seconds", {1}, {about.hostSeconds}}};
  if (!state.hostLink.empty()) arrays.push_back({"host_link", {state.hostLink.size()}, state.hostLink});
  for (const auto& [name, w] : state.carried) {
    if (state.parameters.count(name)) arrays.push_back({"weights/" + name, {w.size()}, w});
    arrays.push_back({"state/" + name, {w.size()}, w});
  }
  std::string linkNames = "[]";
  if (about.lastStep) addStatistics(*about.lastStep, arrays, linkNames);
  std::string columns;
  for (int k = 0; k < runtime::kBreakdownColumns; ++k) columns += (k ? ", " : "") + std::string(runtime::breakdownColumnName(k));
  std::string dies;
  for (const std::string& d : state.breakdownDies) dies += (dies.empty() ? "" : " ") + d;
  runtime::writeArrays(path, arrays,
                       {{"run", about.runKey},
                        {"step", about.stepJson},
                        {"config", about.configIni},
                        {"summary", about.summaryJson},
                        {"stats_units", "unit_busy_cycles: scalar, sync, vector, matrix, dma; stall_cycles: hazard, unit, port, semaphore, barrier; "
                                        "activity_cycles: the first five columns of step_breakdown"},
                        {"step_breakdown_columns", columns},
                        {"step_breakdown_dies", dies},
                        {"stats_link_names", linkNames}});
}

void readRunFile(const std::string& path, const std::string& runKey, TrainState& state) {
  std::map<std::string, std::string> attrs;
  std::vector<runtime::NamedArray> arrays;
  try {
    arrays = runtime::readArrays(path, &attrs);
  } catch (const std::runtime_error& e) {
    throw DataError(e.what());
  }
  if (attrs["run"] != runKey)
    throw DataError("checkpoint '" + path + "' is of another run:\n  it has: " + attrs["run"] + "\n  this is: " + runKey);
  for (const auto& a : arrays) {
    if (a.name == "next_step" && !a.data.empty()) {
      // A step count: a whole number a double holds exactly (converting anything else to an
      // integer is undefined; the trainer then checks it against the run's steps).
      const double step = a.data.front();
      if (!(step >= 0 && step <= 9007199254740992.0) || step != std::floor(step)) {
        std::ostringstream text;
        text << step;
        throw DataError("checkpoint '" + path + "': 'next_step' is " + text.str() + ", not a step count");
      }
      state.nextStep = std::int64_t(step);
    }
    else if (a.name == "loss") state.loss = a.data;
    else if (a.name == "cycles") state.cycles = a.data;
    else if (a.name == "epoch_accuracy") state.epochAccuracy = a.data;
    else if (a.name == "epoch_eval_cycles") state.epochEvalCycles = a.data;
    else if (a.name == "host_link") {
      for (double v : a.data)
        if (!(v >= 0 && v <= 9007199254740992.0) || v != std::floor(v))
          throw DataError("checkpoint '" + path + "': 'host_link' holds " + std::to_string(v) + ", not a cycle count");
      if (a.data.size() != 4) throw DataError("checkpoint '" + path + "': 'host_link' holds " + std::to_string(a.data.size()) + " values, not 4");
      state.hostLink = a.data;
    }
    else if (a.name == "step_breakdown") state.stepBreakdown = a.data;
    else if (a.name == "step_critical_path") state.stepCriticalPath = a.data;
    else if (a.name == "step_breakdown_die_cores") state.breakdownDieCores = a.data;
    else if (a.name.rfind("state/", 0) == 0) {
      const auto it = state.carried.find(a.name.substr(6));
      if (it == state.carried.end() || it->second.size() != a.data.size())
        throw DataError("checkpoint '" + path + "': '" + a.name + "' does not fit the model");
      it->second = a.data;
    }
  }
}

}  // namespace tatami::driver
