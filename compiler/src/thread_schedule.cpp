// List scheduling of a core's ops over its hardware threads (see thread_schedule.h).
#include "tatami/compiler/thread_schedule.h"

#include <algorithm>
#include <array>

namespace tatami::compiler {

namespace {

using Ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

Ranges merged(Ranges r) {
  r.erase(std::remove_if(r.begin(), r.end(), [](const auto& x) { return x.first >= x.second; }), r.end());
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& x : r)
    if (!out.empty() && x.first <= out.back().second) out.back().second = std::max(out.back().second, x.second);
    else out.push_back(x);
  return out;
}

bool overlap(const Ranges& a, const Ranges& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].second <= b[j].first) ++i;
    else if (b[j].second <= a[i].first) ++j;
    else return true;
  }
  return false;
}

constexpr int kMaxThreads = 4;

}  // namespace

ThreadPlan planThreads(const std::vector<SegmentNeeds>& segments, int threads, double syncCycles) {
  const std::size_t n = segments.size();
  const int T = std::clamp(threads, 1, kMaxThreads);
  ThreadPlan plan;
  plan.thread.assign(n, 0), plan.waitFor.assign(n, {}), plan.signalTo.assign(n, {});
  plan.start.assign(n, 0), plan.finish.assign(n, 0);
  std::vector<Ranges> ranges(n), writes(n);
  for (std::size_t q = 0; q < n; ++q) ranges[q] = merged(segments[q].bytes), writes[q] = merged(segments[q].writes);
  // Two segments conflict where their bytes overlap, except that one that only reads conflicts
  // only with the other's writes (two that only read, never).
  const auto conflict = [&](std::size_t p, std::size_t q) {
    const SegmentNeeds &a = segments[p], &b = segments[q];
    if (a.readsOnly && b.readsOnly) return false;
    if (a.readsOnly) return overlap(ranges[p], b.writesKnown ? writes[q] : ranges[q]);
    if (b.readsOnly) return overlap(a.writesKnown ? writes[p] : ranges[p], ranges[q]);
    return overlap(ranges[p], ranges[q]);
  };

  using Clock = std::array<int, kMaxThreads>;  // the last segment of each thread known done (-1: none)
  std::array<double, kMaxThreads> threadFree{};
  std::array<Clock, kMaxThreads> known;
  for (Clock& k : known) k.fill(-1);
  std::vector<Clock> clockAfter(n);  // what a thread knows once segment q is done
  std::array<double, kSegmentUnits> unitFree{};
  std::array<int, kSegmentUnits> unitLast = {-1, -1, -1, -1};  // the last op on each unit
  const auto uses = [](const SegmentNeeds& s, int u) { return (s.units >> u) & 1u; };
  const auto unitsFree = [&](const SegmentNeeds& s) {
    double at = 0;
    for (int u = 0; u < kSegmentUnits; ++u)
      if (uses(s, u)) at = std::max(at, unitFree[std::size_t(u)]);
    return at;
  };

  for (std::size_t q = 0; q < n; ++q) {
    const SegmentNeeds& s = segments[q];
    // The latest earlier segment of each thread whose bytes this one touches.
    Clock need;
    need.fill(-1);
    if (T > 1) {
      int found = 0;
      for (std::size_t p = q; p-- > 0 && found < T;) {
        const int a = plan.thread[p];
        if (need[std::size_t(a)] >= 0) continue;
        if (conflict(p, q)) need[std::size_t(a)] = int(p), ++found;
      }
      // The previous op on each of its units runs first, as the estimate has it.
      for (int u = 0; u < kSegmentUnits; ++u) {
        const int p = unitLast[std::size_t(u)];
        if (!uses(s, u) || p < 0) continue;
        int& latest = need[std::size_t(plan.thread[std::size_t(p)])];
        latest = std::max(latest, p);
      }
    }
    double bestFinish = 0;
    int best = -1, bestWaits = 0;
    for (int t = 0; t < (s.pinned ? 1 : T); ++t) {
      double ready = threadFree[std::size_t(t)];
      int waits = 0;
      for (int a = 0; a < T; ++a) {
        const int p = need[std::size_t(a)];
        if (p < 0) continue;
        if (a != t && p > known[std::size_t(t)][std::size_t(a)]) {
          ready = std::max(ready, plan.finish[std::size_t(p)] + syncCycles);
          ++waits;
        } else {
          ready = std::max(ready, plan.finish[std::size_t(p)]);
        }
      }
      const double start = std::max(ready, unitsFree(s));
      const double finish = start + s.cycles;
      // The earliest finish; on a tie the fewest waits, then the lowest thread.
      if (best < 0 || finish < bestFinish || (finish == bestFinish && waits < bestWaits))
        best = t, bestFinish = finish, bestWaits = waits;
    }
    const int t = best;
    plan.thread[q] = t;
    Clock& k = known[std::size_t(t)];
    double ready = threadFree[std::size_t(t)];
    for (int a = 0; a < T; ++a) {
      const int p = need[std::size_t(a)];
      if (p < 0) continue;
      ready = std::max(ready, plan.finish[std::size_t(p)] + (a != t && p > k[std::size_t(a)] ? syncCycles : 0.0));
      if (a == t || p <= k[std::size_t(a)]) continue;
      plan.waitFor[q].push_back(a);
      plan.signalTo[std::size_t(p)].push_back(t);
      // Waiting for p also tells this thread everything p's thread knew when p was done.
      for (int x = 0; x < T; ++x) k[std::size_t(x)] = std::max(k[std::size_t(x)], clockAfter[std::size_t(p)][std::size_t(x)]);
    }
    plan.start[q] = std::max(ready, unitsFree(s));
    plan.finish[q] = plan.start[q] + s.cycles;
    threadFree[std::size_t(t)] = plan.finish[q];
    for (int u = 0; u < kSegmentUnits; ++u)
      if (uses(s, u)) unitFree[std::size_t(u)] = plan.finish[q], unitLast[std::size_t(u)] = int(q);
    k[std::size_t(t)] = int(q);
    clockAfter[q] = k;
    plan.makespan = std::max(plan.makespan, plan.finish[q]);
    plan.threadsUsed = std::max(plan.threadsUsed, t + 1);
  }
  return plan;
}

}  // namespace tatami::compiler
