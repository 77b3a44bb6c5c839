// Reservation arithmetic for one shared resource (an SRAM port, a NoC port): the busy intervals
// ahead of the present, so that an instruction can book a future interval and a later one can
// still use the gap before it. No simulator event per cycle.
#pragma once

#include <cstdint>
#include <iterator>
#include <map>

namespace tatami::tlm {

class PortTimeline {
 public:
  /// The first cycle t >= from at which [t, t + cycles) is free.
  std::uint64_t earliestFree(std::uint64_t from, std::uint64_t cycles) const {
    if (cycles == 0) return from;
    std::uint64_t t = from;
    // Intervals are disjoint and sorted by start; walk those that could overlap.
    auto it = busy_.upper_bound(t);
    if (it != busy_.begin()) {
      auto prev = std::prev(it);
      if (prev->second > t) t = prev->second;
    }
    for (; it != busy_.end(); ++it) {
      if (it->first >= t + cycles) break;
      if (it->second > t) t = it->second;
    }
    return t;
  }
  /// Books [start, start + cycles); the interval must be free.
  void reserve(std::uint64_t start, std::uint64_t cycles) {
    if (cycles == 0) return;
    busyCycles_ += cycles;
    std::uint64_t end = start + cycles;
    // Merge with touching neighbours to keep the map small.
    auto next = busy_.find(end);
    if (next != busy_.end()) {
      end = next->second;
      busy_.erase(next);
    }
    auto it = busy_.lower_bound(start);
    if (it != busy_.begin()) {
      auto prev = std::prev(it);
      if (prev->second == start) {
        prev->second = end;
        return;
      }
    }
    busy_[start] = end;
  }
  /// Forgets intervals that end at or before `now` (no future request can start earlier).
  void retire(std::uint64_t now) {
    while (!busy_.empty() && busy_.begin()->second <= now) busy_.erase(busy_.begin());
  }
  std::uint64_t busyCycles() const { return busyCycles_; }
  /// The end of the last booked interval (0 if none remain).
  std::uint64_t lastEnd() const { return busy_.empty() ? 0 : std::prev(busy_.end())->second; }

 private:
  std::map<std::uint64_t, std::uint64_t> busy_;  // start -> end
  std::uint64_t busyCycles_ = 0;
};

}  // namespace tatami::tlm
