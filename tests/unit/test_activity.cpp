// The activity log behind the step's breakdown: each cycle counted once, in the first activity
// that holds for it; spans that arrive out of order or overlap; counting within a window.
#include <doctest/doctest.h>

#include "tatami/tlm/activity.h"

using namespace tatami::tlm;

TEST_CASE("activity log: a cycle counts in the first activity that holds for it") {
  ActivityLog log;
  log.add(Activity::OnDie, 10, 40);
  log.add(Activity::Compute, 0, 15);
  log.add(Activity::Compute, 30, 35);
  log.add(Activity::SyncWait, 38, 50);
  log.add(Activity::Compute, 60, 60);  // empty: ignored
  const auto seg = log.classify(45);   // the end clips the wait
  REQUIRE(seg.size() == 5);
  CHECK((seg[0].start == 0 && seg[0].end == 15 && seg[0].activity == Activity::Compute));
  CHECK((seg[1].start == 15 && seg[1].end == 30 && seg[1].activity == Activity::OnDie));
  CHECK((seg[2].start == 30 && seg[2].end == 35 && seg[2].activity == Activity::Compute));
  CHECK((seg[3].start == 35 && seg[3].end == 40 && seg[3].activity == Activity::OnDie));
  CHECK((seg[4].start == 40 && seg[4].end == 45 && seg[4].activity == Activity::SyncWait));
  const auto all = countActivities(seg, 0, 45);
  CHECK(all[std::size_t(Activity::Compute)] == 20);
  CHECK(all[std::size_t(Activity::OnDie)] == 20);
  CHECK(all[std::size_t(Activity::SyncWait)] == 5);
  const auto window = countActivities(seg, 12, 32);
  CHECK(window[std::size_t(Activity::Compute)] == 3 + 2);
  CHECK(window[std::size_t(Activity::OnDie)] == 15);
}

TEST_CASE("activity log: many overlapping spans out of order merge to the same counts") {
  ActivityLog log;
  // 1000 compute spans of 3 cycles every 4 cycles, added backwards, each twice: 3 of every 4.
  for (int i = 999; i >= 0; --i) {
    log.add(Activity::Compute, std::uint64_t(4 * i), std::uint64_t(4 * i + 3));
    log.add(Activity::Compute, std::uint64_t(4 * i + 1), std::uint64_t(4 * i + 2));
  }
  log.add(Activity::DataLoad, 0, 4000);
  const auto seg = log.classify(4000);
  const auto n = countActivities(seg, 0, 4000);
  CHECK(n[std::size_t(Activity::Compute)] == 3000);
  CHECK(n[std::size_t(Activity::DataLoad)] == 1000);
  CHECK(seg.size() == 2000);
}
