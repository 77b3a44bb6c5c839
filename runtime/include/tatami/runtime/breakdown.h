// The step's breakdown: where every core's cycles went (compute, transfers in flight across die
// edges, on the die and to HBM with nothing to compute, waits for work not yet started, idle),
// per die and in all, and the critical path that ends the step (docs/timing.md "Where the cycles
// went").
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tatami/arch/config.h"
#include "tatami/tlm/activity.h"
#include "tatami/tlm/core.h"

namespace tatami::runtime {

/// The columns: tlm::Activity's five in order, then idle.
constexpr int kBreakdownColumns = tlm::kActivities + 1;
/// "compute", "die-edge", "on-die", "hbm", "sync-wait", "idle".
const char* breakdownColumnName(int column);

struct Breakdown {
  struct Row {
    std::string die;  ///< "(r,c)", or "all"
    int cores = 0;
    /// Mean cycles per core in each column; they add up to the step's cycles.
    std::array<double, kBreakdownColumns> cycles{};
  };
  std::uint64_t cycles = 0;  ///< the step's: its last core's end
  Row all;
  std::vector<Row> dies;  ///< the dies with cores that ran, in die order
  /// Mean cycles per core with a transfer to or from HBM in flight, hidden or not: the data-load
  /// column is its exposed part.
  double dataLoadInFlight = 0;
  /// The chain of cores and transfers that ends the step, walked back from the core that ends
  /// last: at each core, the latest wait that a transfer ended leads to the far end of the
  /// transfer when it was issued.
  struct CriticalPath {
    std::vector<int> cores;  ///< in time order: the first core on the path first, the last core last
    std::int64_t transfers = 0;
    /// Its cycles by column: on a core, as that core's cycles count; a transfer in flight, as
    /// what it carried. They add up to the step's cycles.
    std::array<std::uint64_t, kBreakdownColumns> cycles{};
  } critical;
  /// "compute 61.2%, on-die 30.1%, ..." for a row (columns over 0.05% only).
  static std::string shares(const std::array<double, kBreakdownColumns>& cycles, double total);
};

/// What the breakdown reads of one core after a run.
struct CoreActivity {
  int core = 0;
  std::uint64_t cycles = 0;
  const std::vector<tlm::ActivitySegment>* segments = nullptr;
  const std::vector<tlm::WaitRecord>* waits = nullptr;
  std::uint64_t dataLoadInFlight = 0;  ///< tlm::CoreStats::held of DataLoad
};

/// The breakdown as JSON: cycles, all (the columns and cores), dies (one record each, with its
/// name), critical_path (its cores, transfers and columns). Metric names: tools/src/metrics.def.
nlohmann::ordered_json breakdownJson(const Breakdown& b);
std::array<double, kBreakdownColumns> asDouble(const std::array<std::uint64_t, kBreakdownColumns>& v);

Breakdown computeBreakdown(const ArchConfig& config, const std::vector<CoreActivity>& cores);

}  // namespace tatami::runtime
