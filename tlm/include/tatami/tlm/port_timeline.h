// Reservation arithmetic for one shared resource (an SRAM port, a NoC port, a mesh link): the busy
// intervals ahead of the present, so that an instruction can book a future interval and a later
// one can still use the gap before it. No simulator event per cycle.
//
// Most bookings are made at or near the latest one, so the searches look at the last few
// intervals first and fall back to a binary search; intervals that are over are dropped by
// moving a start index, the storage compacted now and then.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace tatami::tlm {

/// The index of the first element of v from `first` on whose key is greater than t (the keys
/// sorted), looking at the last few elements before searching.
template <typename T, typename Key>
std::size_t firstAfter(const std::vector<T>& v, std::size_t first, std::uint64_t t, Key key) {
  std::size_t i = v.size();
  for (int k = 0; k < 4 && i > first; ++k, --i)
    if (key(v[i - 1]) <= t) return i;
  if (i == first) return first;
  return std::size_t(std::upper_bound(v.begin() + long(first), v.begin() + long(i), t,
                                      [&](std::uint64_t value, const T& e) { return value < key(e); }) -
                     v.begin());
}
inline std::size_t firstAfter(const std::vector<std::uint64_t>& v, std::size_t first, std::uint64_t t) {
  return firstAfter(v, first, t, [](std::uint64_t e) { return e; });
}

class PortTimeline {
 public:
  /// The first cycle t >= from at which [t, t + cycles) is free.
  std::uint64_t earliestFree(std::uint64_t from, std::uint64_t cycles) const {
    if (cycles == 0) return from;
    std::uint64_t t = from;
    // Intervals are disjoint and sorted by start, hence by end: skip those that end by `from`.
    for (std::size_t i = firstEndingAfter(from); i < busy_.size(); ++i) {
      if (busy_[i].first >= t + cycles) break;
      t = std::max(t, busy_[i].second);
    }
    return t;
  }
  /// Books [start, start + cycles); the interval must be free.
  void reserve(std::uint64_t start, std::uint64_t cycles) {
    if (cycles == 0) return;
    busyCycles_ += cycles;
    const std::uint64_t end = start + cycles;
    // At or after the last interval: append, or extend it when they touch.
    if (busy_.size() == head_ || busy_.back().second <= start) {
      if (busy_.size() > head_ && busy_.back().second == start) busy_.back().second = end;
      else busy_.push_back({start, end});
      return;
    }
    std::size_t i = busy_.size();
    while (i > head_ && busy_[i - 1].first >= start) --i;  // the first interval starting at or after `start`
    // Merge with touching neighbours to keep the list short.
    const bool joinPrev = i > head_ && busy_[i - 1].second == start;
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
    if (busy_.size() == head_ || busy_[head_].second > now) return;
    head_ = firstEndingAfter(now);
    if (head_ == busy_.size()) {
      busy_.clear();
      head_ = 0;
    } else if (head_ >= 64 && 2 * head_ >= busy_.size()) {
      busy_.erase(busy_.begin(), busy_.begin() + long(head_));
      head_ = 0;
    }
  }
  std::uint64_t busyCycles() const { return busyCycles_; }

 private:
  /// The index of the first kept interval that ends after t.
  std::size_t firstEndingAfter(std::uint64_t t) const {
    return firstAfter(busy_, head_, t, [](const std::pair<std::uint64_t, std::uint64_t>& b) { return b.second; });
  }

  std::vector<std::pair<std::uint64_t, std::uint64_t>> busy_;  // [start, end), sorted, disjoint; kept from head_
  std::size_t head_ = 0;
  std::uint64_t busyCycles_ = 0;
};

}  // namespace tatami::tlm
