// Reservation arithmetic for one shared resource (an SRAM port, a NoC port): the busy intervals
// ahead of the present, so that an instruction can book a future interval and a later one can
// still use the gap before it. No simulator event per cycle.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace tatami::tlm {

class PortTimeline {
 public:
  /// The first cycle t >= from at which [t, t + cycles) is free.
  std::uint64_t earliestFree(std::uint64_t from, std::uint64_t cycles) const {
    if (cycles == 0) return from;
    std::uint64_t t = from;
    // Intervals are disjoint and sorted; at most a handful are ahead of the present.
    for (const auto& [start, end] : busy_) {
      if (end <= t) continue;
      if (start >= t + cycles) break;
      t = end;
    }
    return t;
  }
  /// Books [start, start + cycles); the interval must be free.
  void reserve(std::uint64_t start, std::uint64_t cycles) {
    if (cycles == 0) return;
    busyCycles_ += cycles;
    const std::uint64_t end = start + cycles;
    std::size_t i = 0;
    while (i < busy_.size() && busy_[i].first < start) ++i;
    // Merge with touching neighbours to keep the list short.
    const bool joinPrev = i > 0 && busy_[i - 1].second == start;
    const bool joinNext = i < busy_.size() && busy_[i].first == end;
    if (joinPrev && joinNext) {
      busy_[i - 1].second = busy_[i].second;
      busy_.erase(busy_.begin() + long(i));
    } else if (joinPrev) {
      busy_[i - 1].second = end;
    } else if (joinNext) {
      busy_[i].first = start;
    } else {
      busy_.insert(busy_.begin() + long(i), {start, end});
    }
  }
  /// Forgets intervals that end at or before `now` (no future request can start earlier).
  void retire(std::uint64_t now) {
    std::size_t n = 0;
    while (n < busy_.size() && busy_[n].second <= now) ++n;
    if (n) busy_.erase(busy_.begin(), busy_.begin() + long(n));
  }
  std::uint64_t busyCycles() const { return busyCycles_; }

 private:
  std::vector<std::pair<std::uint64_t, std::uint64_t>> busy_;  // [start, end), sorted, disjoint
  std::uint64_t busyCycles_ = 0;
};

}  // namespace tatami::tlm
