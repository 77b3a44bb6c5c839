// Where a core's cycles go: what it was doing or waiting for in each cycle, for the step's
// breakdown (docs/timing.md "Where the cycles went"). The core logs the spans of its activities as
// it issues; at the end each cycle is counted once, in the first activity (in Activity's order)
// that holds for it. A cycle none holds for is idle.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace tatami::tlm {

enum class Activity : std::uint8_t {
  Compute,   ///< a matrix, vector or scalar instruction or a DMA within the core's SRAM
  DieEdge,   ///< a transfer to or from a core on another die in flight (put, get, signal)
  OnDie,     ///< a transfer to or from another core of the same die in flight
  DataLoad,  ///< a transfer to or from an interface processor's HBM in flight: the step's inputs
             ///< on their way in (and weights streamed from HBM)
  SyncWait,  ///< a thread waits (semaphore or barrier) for work that has not started yet
};
constexpr int kActivities = 5;
/// "compute", "die-edge", "on-die", "data-load", "sync-wait".
const char* activityName(Activity a);

/// A span of cycles [start, end) counted in one activity.
struct ActivitySegment {
  std::uint64_t start = 0, end = 0;
  Activity activity = Activity::Compute;
};

class ActivityLog {
 public:
  /// Notes that `a` holds over [start, end) (empty spans are ignored).
  void add(Activity a, std::uint64_t start, std::uint64_t end);
  /// Every cycle of [0, end) that some activity holds for, in the first one that does: disjoint
  /// segments in order of start.
  std::vector<ActivitySegment> classify(std::uint64_t end);
  /// After classify: per activity, the cycles of [0, end) it held for, whether another came first
  /// or not (a transfer hidden behind compute counts here, and as compute in the segments).
  const std::array<std::uint64_t, kActivities>& held() const { return held_; }

 private:
  using Spans = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
  /// Sorts and merges `v` in place (overlapping and touching spans become one).
  static void normalize(Spans& v);
  std::array<Spans, kActivities> spans_;
  std::array<std::size_t, kActivities> normalizedSize_{};
  std::array<std::uint64_t, kActivities> held_{};
};

/// Cycles per activity within [from, to) of segments as classify() returns them.
std::array<std::uint64_t, kActivities> countActivities(const std::vector<ActivitySegment>& segments, std::uint64_t from,
                                                       std::uint64_t to);

}  // namespace tatami::tlm
