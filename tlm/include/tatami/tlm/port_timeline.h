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
  // Binary search over [first, i) (v[i] is known to be after t), written so that the compiler
  // can select instead of branch: the searches land at random.
  std::size_t lo = first, n = i - first;
  while (n > 0) {
    const std::size_t half = n / 2;
    const bool before = key(v[lo + half]) <= t;
    lo = before ? lo + half + 1 : lo;
    n = before ? n - half - 1 : half;
  }
  return lo;
}
inline std::size_t firstAfter(const std::vector<std::uint64_t>& v, std::size_t first, std::uint64_t t) {
  return firstAfter(v, first, t, [](std::uint64_t e) { return e; });
}

class PortTimeline {
 public:
  /// The first cycle t >= from at which [t, t + cycles) is free.
  std::uint64_t earliestFree(std::uint64_t from, std::uint64_t cycles) const {
    if (cycles == 0 || from >= lastEnd_) return from;  // nothing booked from `from` on
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
    if (busy_.size() == head_ || lastEnd_ <= start) {
      if (busy_.size() > head_ && lastEnd_ == start) busy_.back().second = end;
      else busy_.push_back({start, end});
      lastEnd_ = end;
      if (busy_.size() == head_ + 1) firstEnd_ = end;
      return;
    }
    // The first interval starting at or after `start` (the intervals are disjoint, so it is the
    // first that ends after it: start lies in no interval).
    const std::size_t i = firstEndingAfter(start);
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
    firstEnd_ = busy_[head_].second;
  }
  /// Forgets intervals that end at or before `now` (no future request can start earlier).
  void retire(std::uint64_t now) {
    if (firstEnd_ > now) return;  // none kept, or the first ends after `now`
    head_ = firstEndingAfter(now);
    if (head_ == busy_.size()) {
      busy_.clear();
      head_ = 0;
      firstEnd_ = kNever, lastEnd_ = 0;
      return;
    }
    if (head_ >= 64 && 2 * head_ >= busy_.size()) {
      busy_.erase(busy_.begin(), busy_.begin() + long(head_));
      head_ = 0;
    }
    firstEnd_ = busy_[head_].second;
  }
  std::uint64_t busyCycles() const { return busyCycles_; }

 private:
  /// The index of the first kept interval that ends after t.
  std::size_t firstEndingAfter(std::uint64_t t) const {
    return firstAfter(busy_, head_, t, [](const std::pair<std::uint64_t, std::uint64_t>& b) { return b.second; });
  }

  static constexpr std::uint64_t kNever = ~std::uint64_t(0);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> busy_;  // [start, end), sorted, disjoint; kept from head_
  std::size_t head_ = 0;
  // The ends of the first and the last kept interval (kNever and 0 when none is kept), kept here
  // so that the common cases (an idle port, nothing to retire) read no interval.
  std::uint64_t firstEnd_ = kNever, lastEnd_ = 0;
  std::uint64_t busyCycles_ = 0;
};

}  // namespace tatami::tlm
