// Reservation arithmetic for one shared resource (an SRAM port, a NoC port): the busy intervals
// ahead of the present, so that an instruction can book a future interval and a later one can
// still use the gap before it. No simulator event per cycle.
#pragma once

#include <algorithm>
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
    // Intervals are disjoint and sorted by start, hence by end: skip those that end by `from`.
    auto it = std::upper_bound(busy_.begin(), busy_.end(), t,
                               [](std::uint64_t v, const std::pair<std::uint64_t, std::uint64_t>& b) { return v < b.second; });
    for (; it != busy_.end(); ++it) {
      if (it->first >= t + cycles) break;
      t = std::max(t, it->second);
    }
    return t;
  }
  /// Books [start, start + cycles); the interval must be free.
  void reserve(std::uint64_t start, std::uint64_t cycles) {
    if (cycles == 0) return;
    busyCycles_ += cycles;
    const std::uint64_t end = start + cycles;
    const std::size_t i = std::size_t(
        std::lower_bound(busy_.begin(), busy_.end(), start,
                         [](const std::pair<std::uint64_t, std::uint64_t>& b, std::uint64_t v) { return b.first < v; }) -
        busy_.begin());
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
    const auto it = std::upper_bound(busy_.begin(), busy_.end(), now,
                                     [](std::uint64_t v, const std::pair<std::uint64_t, std::uint64_t>& b) { return v < b.second; });
    if (it != busy_.begin()) busy_.erase(busy_.begin(), it);
  }
  std::uint64_t busyCycles() const { return busyCycles_; }

 private:
  std::vector<std::pair<std::uint64_t, std::uint64_t>> busy_;  // [start, end), sorted, disjoint
  std::uint64_t busyCycles_ = 0;
};

}  // namespace tatami::tlm
