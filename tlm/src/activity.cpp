#include "tatami/tlm/activity.h"

#include <algorithm>

namespace tatami::tlm {

const char* activityName(Activity a) {
  switch (a) {
    case Activity::Compute: return "compute";
    case Activity::DieEdge: return "die-edge";
    case Activity::OnDie: return "on-die";
    case Activity::DataLoad: return "data-load";
    case Activity::SyncWait: return "sync-wait";
  }
  return "?";
}

void ActivityLog::normalize(Spans& v) {
  std::sort(v.begin(), v.end());
  std::size_t out = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (out > 0 && v[i].first <= v[out - 1].second) v[out - 1].second = std::max(v[out - 1].second, v[i].second);
    else v[out++] = v[i];
  }
  v.resize(out);
}

void ActivityLog::add(Activity a, std::uint64_t start, std::uint64_t end) {
  if (end <= start) return;
  Spans& v = spans_[std::size_t(a)];
  // Spans mostly arrive in order of start: extend the last one when they touch.
  if (!v.empty() && start >= v.back().first && start <= v.back().second) {
    v.back().second = std::max(v.back().second, end);
    return;
  }
  v.emplace_back(start, end);
  // Keep the list no longer than twice its merged size, so that memory follows the disjoint spans.
  std::size_t& merged = normalizedSize_[std::size_t(a)];
  if (v.size() > 2 * merged + 64) {
    normalize(v);
    merged = v.size();
  }
}

std::vector<ActivitySegment> ActivityLog::classify(std::uint64_t end) {
  std::vector<ActivitySegment> out;
  Spans covered;  // the union of the activities before the one at hand, merged
  for (int k = 0; k < kActivities; ++k) {
    Spans& v = spans_[std::size_t(k)];
    normalize(v);
    normalizedSize_[std::size_t(k)] = v.size();
    Spans next;
    std::size_t c = 0;
    held_[std::size_t(k)] = 0;
    for (auto [s, e] : v) {
      e = std::min(e, end);
      if (s >= e) continue;
      held_[std::size_t(k)] += e - s;  // the spans are merged: disjoint
      // The parts of [s, e) that no earlier activity covers.
      while (c < covered.size() && covered[c].second <= s) ++c;
      std::uint64_t at = s;
      for (std::size_t j = c; j < covered.size() && covered[j].first < e; ++j) {
        if (covered[j].first > at) out.push_back({at, covered[j].first, Activity(k)});
        at = std::max(at, covered[j].second);
      }
      if (at < e) out.push_back({at, e, Activity(k)});
      next.emplace_back(s, e);
    }
    next.insert(next.end(), covered.begin(), covered.end());
    normalize(next);
    covered = std::move(next);
  }
  std::sort(out.begin(), out.end(), [](const ActivitySegment& a, const ActivitySegment& b) { return a.start < b.start; });
  return out;
}

std::array<std::uint64_t, kActivities> countActivities(const std::vector<ActivitySegment>& segments, std::uint64_t from,
                                                       std::uint64_t to) {
  std::array<std::uint64_t, kActivities> n{};
  auto it = std::lower_bound(segments.begin(), segments.end(), from,
                             [](const ActivitySegment& s, std::uint64_t t) { return s.end <= t; });
  for (; it != segments.end() && it->start < to; ++it) {
    const std::uint64_t s = std::max(it->start, from), e = std::min(it->end, to);
    if (e > s) n[std::size_t(it->activity)] += e - s;
  }
  return n;
}

}  // namespace tatami::tlm
