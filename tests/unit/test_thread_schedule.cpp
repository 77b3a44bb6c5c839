// The thread plan of a compiled program: which hardware thread runs each op, and the waits.
#include <doctest/doctest.h>

#include "tatami/compiler/thread_schedule.h"

using namespace tatami::compiler;

namespace {

SegmentNeeds seg(std::uint64_t first, std::uint64_t end, double cycles, unsigned units = kVectorUnit, bool pinned = false) {
  SegmentNeeds s;
  s.bytes = {{first, end}};
  s.cycles = cycles, s.units = units, s.pinned = pinned;
  return s;
}

}  // namespace

TEST_CASE("one thread: every op on thread 0 in order, no waits, the estimate is the sum") {
  const ThreadPlan p = planThreads({seg(0, 64, 100, kMatrixUnit), seg(64, 128, 50), seg(128, 192, 30)}, 1, 3);
  CHECK(p.thread == std::vector<int>{0, 0, 0});
  CHECK(p.makespan == 180);
  CHECK(p.threadsUsed == 1);
  for (const auto& w : p.waitFor) CHECK(w.empty());
  for (const auto& s : p.signalTo) CHECK(s.empty());
}

TEST_CASE("independent ops on different units overlap on two threads, ops on one unit do not") {
  // A matmul and a vector op on disjoint bytes: the vector op runs on thread 1 from cycle 0.
  ThreadPlan p = planThreads({seg(0, 64, 100, kMatrixUnit), seg(64, 128, 60)}, 4, 3);
  CHECK(p.thread == std::vector<int>{0, 1});
  CHECK(p.start[1] == 0);
  CHECK(p.makespan == 100);
  CHECK(p.threadsUsed == 2);
  CHECK(p.waitFor[1].empty());
  // Two vector ops share the vector unit: the second would start at 60 on either thread, so it
  // stays on thread 0 (no thread is gained).
  p = planThreads({seg(0, 64, 60), seg(64, 128, 60)}, 4, 3);
  CHECK(p.thread == std::vector<int>{0, 0});
  CHECK(p.makespan == 120);
}

TEST_CASE("an op that reads what another thread wrote waits for its signal, a wait is never repeated") {
  // 0: matmul writes [0,64) on thread 0. 1: vector op on [64,128) runs on thread 1. 2: vector op
  // reading [0,64) and [64,128): it needs both; on thread 1 it waits for thread 0's op 0.
  // 3: another op reading [0,64): thread 1 already knows op 0 is done, so no second wait.
  const ThreadPlan p = planThreads({seg(0, 64, 100, kMatrixUnit), seg(64, 128, 40),
                                    [] {
                                      SegmentNeeds s = seg(0, 128, 20);
                                      return s;
                                    }(),
                                    seg(0, 32, 10)},
                                   2, 3);
  REQUIRE(p.thread[0] == 0);
  REQUIRE(p.thread[1] == 1);
  // Op 2 can start at 100 + 3 on thread 1 or at 100 on thread 0: thread 0 (no wait) wins.
  CHECK(p.thread[2] == 0);
  CHECK(p.start[2] == 100);
  CHECK(p.waitFor[2] == std::vector<int>{1});  // thread 1's op 1 wrote [64,128)
  CHECK(p.signalTo[1] == std::vector<int>{0});
  CHECK(p.thread[3] == 0);
  CHECK(p.waitFor[3].empty());
}

TEST_CASE("ops that talk to other cores stay on thread 0, a thread that waited knows what its producer knew") {
  // 0: matmul on thread 0; 1: vector op on thread 1 (independent); 2: a collective (pinned)
  // reading op 1's bytes: thread 0 waits for thread 1.
  ThreadPlan p = planThreads({seg(0, 64, 100, kMatrixUnit), seg(64, 128, 40), seg(64, 128, 10, kMeshPort, true)}, 4, 3);
  CHECK(p.thread == std::vector<int>{0, 1, 0});
  CHECK(p.waitFor[2] == std::vector<int>{1});
  CHECK(p.start[2] == 100);  // after thread 0's matmul; thread 1's op was done at 40 (+3)
}

TEST_CASE("a thread waits once for what it needs of another thread, and overlaps the rest") {
  // 0: a matmul writes [0,64) (thread 0). 1: an independent vector op (thread 1, from 0).
  // 2: another matmul (thread 0, after the first). 3: a vector op reading [0,64): on thread 1
  // after op 0's signal (100 + 3) it finishes before thread 0 is free. 4: reads [0,32) again:
  // thread 1 already knows op 0 is done, so it does not wait a second time.
  const ThreadPlan p = planThreads({seg(0, 64, 100, kMatrixUnit), seg(64, 128, 10), seg(128, 192, 100, kMatrixUnit),
                                    seg(0, 64, 50), seg(0, 32, 5)},
                                   4, 3);
  CHECK(p.thread == std::vector<int>{0, 1, 0, 1, 1});
  CHECK(p.waitFor[3] == std::vector<int>{0});
  CHECK(p.signalTo[0] == std::vector<int>{1});
  CHECK(p.start[3] == 103);
  CHECK(p.waitFor[4].empty());
  CHECK(p.makespan == 200);
}
