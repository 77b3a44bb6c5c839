// Programs on several cores joined by the mesh: remote put, get and signals, their timing against
// the zero-load formula, ordering of a signal behind its data, faults and deadlocks across cores.
#include <doctest/doctest.h>

#include <cstring>

#include "tatami/arch/assembler.h"
#include "tatami/runtime/run.h"

using namespace tatami;

namespace {

ArchConfig mesh4x4() {
  ArchConfig c;
  setParam(c, "die.rows", "4", "t");
  setParam(c, "die.cols", "4", "t");
  setParam(c, "die.disabled_cores", "", "t");
  validate(c);
  return c;
}

struct Run {
  Program a, b;
  runtime::RunResult result;
  const tatami::tlm::CoreStats& core(int id) const {
    for (const auto& [c, s] : result.perCore)
      if (c == id) return s;
    FAIL("no core " << id);
    return result.stats;
  }
  const runtime::SramImage& output(const std::string& name) const {
    for (const auto& o : result.outputs)
      if (o.name == name) return o;
    FAIL("no output " << name);
    return result.outputs.front();
  }
};

Run run2(const std::string& onCore0, const std::string& onCore15, const ArchConfig& c = mesh4x4()) {
  Run r;
  r.a = assemble(onCore0, "a.tasm");
  r.b = assemble(onCore15, "b.tasm");
  r.result = runtime::runPrograms(c, {{0, &r.a}, {15, &r.b}}, {});
  return r;
}

}  // namespace

TEST_CASE("put: the data lands and the semaphore signals at the zero-load arrival") {
  // put issues at cycle 4 and leaves after the DMA setup (16 cycles), at 20: (0,0) -> (3,3) is 7
  // routers; 640 B serialize in 10 cycles: the last byte is in core 15's SRAM at 20 + 17 = 37.
  // Core 15's swait returns then; halt at 38.
  const Run r = run2(".init 0 i32 values 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
                     "  li r1, 0\n  li r2, 4096\n  li r3, 640\n  li r9, 15\n  put r9, r2, r1, r3, 2\n  halt\n",
                     ".output got 4096 i32 16\n  swait 2, 1\n  halt\n");
  REQUIRE(r.result.error.empty());
  CHECK(r.core(15).cycles == 39);
  CHECK(r.core(15).threads[0].stallSemaphore == 37);
  CHECK(r.core(0).unitBusy[std::size_t(Unit::Dma)] == 16 + 10);  // the setup, then 10 packets streamed out
  std::vector<std::int32_t> got(16);
  std::memcpy(got.data(), r.output("c15.got").bytes.data(), 64);
  CHECK(got[0] == 1);
  CHECK(got[15] == 16);
}

TEST_CASE("get: a request there, the data back, the local semaphore at arrival") {
  // Request (one packet) issued at 4, leaves after the 16-cycle setup: 7 routers + 1 = arrives at
  // 28; 640 B back: 28 + 17 = 45.
  const Run r = run2(".output got 1024 i32 16\n"
                     "  li r1, 1024\n  li r2, 0\n  li r3, 640\n  li r9, 15\n  get r9, r1, r2, r3, 1\n  swait 1, 1\n  halt\n",
                     ".init 0 i32 values 5 6 7\n  halt\n");
  REQUIRE(r.result.error.empty());
  CHECK(r.core(0).cycles == 47);  // swait returns at 45, halt at 46
  CHECK(r.core(0).unitBusy[std::size_t(Unit::Dma)] == 16 + 1);  // the setup, then one cycle to send the request
  std::vector<std::int32_t> got(3);
  std::memcpy(got.data(), r.output("c0.got").bytes.data(), 12);
  CHECK(got == std::vector<std::int32_t>{5, 6, 7});
}

TEST_CASE("a signal never overtakes the data sent before it") {
  // 64 KiB (1024 packets) then a signal. The data's last byte arrives at 4 + 16 (setup) + 7 + 1024;
  // the signal leaves the engine after the data and arrives after it.
  const Run r = run2("  li r1, 0\n  li r2, 4096\n  li r3, 65536\n  li r9, 15\n  put r9, r2, r1, r3, none\n"
                     "  sincr r9, 3, 1\n  halt\n",
                     "  swait 3, 1\n  halt\n");
  REQUIRE(r.result.error.empty());
  const std::uint64_t dataArrival = 4 + 16 + 7 + 1024;
  CHECK(r.core(15).threads[0].stallSemaphore >= dataArrival);
  CHECK(r.core(15).cycles == r.core(15).threads[0].stallSemaphore + 2);
}

TEST_CASE("many cores put to one: the mesh serializes them at its ejection port") {
  ArchConfig c = mesh4x4();
  std::vector<Program> programs;
  std::string sink = "  swait 0, 15\n  halt\n";
  for (int i = 0; i < 15; ++i)
    programs.push_back(assemble("  li r1, 0\n  li r2, " + std::to_string(4096 * i) +
                                    "\n  li r3, 6400\n  li r9, 15\n  put r9, r2, r1, r3, 0\n  halt\n",
                                "p.tasm"));
  const Program sinkProgram = assemble(sink, "s.tasm");
  std::vector<runtime::CoreProgram> all;
  for (int i = 0; i < 15; ++i) all.push_back({i, &programs[std::size_t(i)]});
  all.push_back({15, &sinkProgram});
  const auto r = runtime::runPrograms(c, all, {});
  REQUIRE(r.error.empty());
  // 15 x 100 packets through core 15's one ejection port: at least 1500 cycles.
  std::uint64_t sinkCycles = 0;
  for (const auto& [id, s] : r.perCore)
    if (id == 15) sinkCycles = s.cycles;
  CHECK(sinkCycles > 1500);
  CHECK(sinkCycles < 1600);
}

TEST_CASE("remote faults and deadlocks name the cores") {
  const Run bad = run2("  li r9, 99\n  li r3, 8\n  put r9, r0, r0, r3, none\n  halt\n", "  halt\n");
  CHECK(bad.result.error == "core 0, thread 0, pc 2 (put r9, r0, r0, r3, none): put: core 99 does not exist (this system has "
                            "16 core positions)");
  const Run dead = run2("  swait 1, 1\n  halt\n", "  swait 2, 1\n  halt\n");
  CHECK(dead.result.error ==
        "deadlock: every thread is waiting and nothing is pending:\n  core 0, thread 0, pc 0 (swait 1, 1) waits for "
        "semaphore 1 (value 0)\n  core 15, thread 0, pc 0 (swait 2, 1) waits for semaphore 2 (value 0)");
  ArchConfig holes = mesh4x4();
  setParam(holes, "die.disabled_cores", "(1,1)", "t");
  const Program p = assemble("  li r9, 5\n  li r3, 8\n  put r9, r0, r0, r3, none\n  halt\n", "p.tasm");
  CHECK(runtime::runPrograms(holes, {{0, &p}}, {}).error.find("put: core 5 is not an active core of this system") !=
        std::string::npos);
  CHECK_THROWS_WITH(runtime::runPrograms(holes, {{5, &p}}, {}),
                    "core 5 is not an active core of this system (ids 0..15, disabled positions excluded)");
}

TEST_CASE("HBM behind an interface processor: data round-trips, bandwidth and latency cost") {
  ArchConfig tile;
  setParam(tile, "system.die_rows", "5", "t");
  setParam(tile, "system.die_cols", "5", "t");
  validate(tile);
  // Write 64 B to DIP 1's HBM (address 36 GiB), read it back elsewhere.
  const Program p = assemble(
      ".init 0 f32 values 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n.output back 1024 f32 16\n"
      "  li r1, 0\n  li r2, 64\n  li r3, 0x900000000\n  hbmwr r3, r1, r2, 1\n  swait 1, 1\n"
      "  li r4, 1024\n  hbmrd r4, r3, r2, 2\n  swait 2, 1\n  halt\n",
      "h.tasm");
  const auto r = runtime::runPrograms(tile, {{0, &p}}, {});
  REQUIRE(r.error.empty());
  std::vector<float> back(16);
  std::memcpy(back.data(), r.outputs[0].bytes.data(), 64);
  CHECK(back[0] == 1.0f);
  CHECK(back[15] == 16.0f);
  // Each trip crosses a die edge (DIP 1 sits at row 27, in the second row of dies) and pays the
  // HBM latency: at least 2 x (2 x 200 + 200) cycles for the two operations.
  CHECK(r.stats.cycles > 1200);
  // 1 MiB from HBM: the DIP's 400 B/cycle bounds it below by 2,622 cycles.
  const Program big = assemble("  li r2, 1048576\n  li r3, 0x900000000\n  hbmrd r0, r3, r2, 2\n  swait 2, 1\n  halt\n", "b.tasm");
  const auto rb = runtime::runPrograms(tile, {{0, &big}}, {});
  REQUIRE(rb.error.empty());
  CHECK(rb.stats.cycles > 1048576 / 400);
  // Beyond the last DIP, or on a system without any: a clear fault.
  const Program far = assemble("  li r2, 64\n  li r3, 0x10000000000\n  hbmrd r0, r3, r2, 2\n  halt\n", "f.tasm");
  CHECK(runtime::runPrograms(tile, {{0, &far}}, {}).error.find("is outside the HBM of the system's 5 DIPs") != std::string::npos);
  CHECK(runtime::runPrograms(ArchConfig{}, {{0, &far}}, {}).error.find("is outside the HBM of the system's 1 DIPs") != std::string::npos);
  ArchConfig none;
  setParam(none, "dip.edge_sources", "0", "t");
  CHECK(runtime::runPrograms(none, {{0, &far}}, {}).error.find("no interface processor with HBM") != std::string::npos);
}

TEST_CASE("a die's edge source: data enters at the west edge router of the reader's row, at the source's rate") {
  // The D1 preset has one edge source (dip.edge_sources): 64 KiB read by core (0,5) and by core
  // (10,5) take the same time (each enters at its own row's edge router, 5 hops away), and
  // halving the source's link rate slows a read that its link bounds.
  const ArchConfig d1;
  const Program read = assemble("  li r1, 65536\n  li r3, 0\n  hbmrd r0, r3, r1, 2\n  swait 2, 1\n  halt\n", "r.tasm");
  const int cols = int(d1.die.cols);
  const auto cycles = [&](const ArchConfig& c, int core) {
    runtime::RunOptions o;
    o.hbmInputs.push_back({"x", 0, DType::F32, {16}, std::vector<std::uint8_t>(64, 7)});
    const auto r = runtime::runPrograms(c, {{core, &read}}, o);
    REQUIRE(r.error.empty());
    return r.stats.cycles;
  };
  const std::uint64_t top = cycles(d1, 5), lower = cycles(d1, 10 * cols + 5);
  CHECK(top == lower);
  ArchConfig slow = d1;
  setParam(slow, "dip.link_gb_per_s", "100", "t");  // 50 B/cycle at 2 GHz: below the mesh's 64
  CHECK(cycles(slow, 5) >= top + 65536 / 50 - 65536 / 64);
}

TEST_CASE("a run keeps per-link, per-router and per-die-edge statistics") {
  ArchConfig two = mesh4x4();
  setParam(two, "system.die_cols", "2", "t");
  validate(two);
  // Core 0 puts 640 B to core 7 (row 0, column 7): 7 links east, one of them across the edge.
  const Program a = assemble("  li r3, 640\n  li r9, 7\n  put r9, r0, r0, r3, none\n  halt\n", "a.tasm");
  const auto r = runtime::runPrograms(two, {{0, &a}}, {});
  REQUIRE(r.error.empty());
  CHECK(r.network.packets == 10);
  CHECK(r.network.bytes == 640);
  REQUIRE(r.network.edges.size() == 1);
  CHECK(r.network.edges[0].name == "die(0,0).east");
  CHECK(r.network.edges[0].packets == 10);
  CHECK(r.network.links.size() == 9);  // injection, 7 mesh links, ejection
  CHECK(r.network.routers.size() == 8);
  for (const auto& l : r.network.links) CHECK(l.packets == 10);
}

TEST_CASE("breakdown: each core's cycles by activity and the critical path across a put") {
  // The put of the first test: core 0 issues it at 4 (it leaves at 20, after the DMA setup) and
  // streams until 30; core 15 waits from 0 and is signalled at 37, then runs swait and halt.
  const Run r = run2(".init 0 i32 values 1 2 3\n"
                     "  li r1, 0\n  li r2, 4096\n  li r3, 640\n  li r9, 15\n  put r9, r2, r1, r3, 2\n  halt\n",
                     "  swait 2, 1\n  halt\n");
  REQUIRE(r.result.error.empty());
  using tatami::tlm::Activity;
  const auto& a0 = r.core(0).activity;
  CHECK(r.core(0).cycles == 30);
  CHECK(a0[std::size_t(Activity::Compute)] == 4 + 1);  // four li, then halt while the put streams
  CHECK(a0[std::size_t(Activity::OnDie)] == 25);       // [4, 30) less halt's cycle
  const auto& a15 = r.core(15).activity;
  CHECK(a15[std::size_t(Activity::SyncWait)] == 20);  // until the put was issued at core 0
  CHECK(a15[std::size_t(Activity::OnDie)] == 17);     // then its data in flight
  CHECK(a15[std::size_t(Activity::Compute)] == 2);
  const runtime::Breakdown& b = r.result.breakdown;
  CHECK(b.cycles == 39);
  CHECK(b.all.cores == 2);
  REQUIRE(b.dies.size() == 1);
  CHECK(b.dies[0].die == "(0,0)");
  // Mean per core: core 0 idles from 30 to the step's end at 39.
  CHECK(b.all.cycles[std::size_t(Activity::Compute)] == doctest::Approx((5 + 2) / 2.0));
  CHECK(b.all.cycles[runtime::kBreakdownColumns - 1] == doctest::Approx(9 / 2.0));
  double sum = 0;
  for (double v : b.all.cycles) sum += v;
  CHECK(sum == doctest::Approx(39));
  // The path: core 0 until the put leaves at 20 (5 compute: the four li and halt; 15 on-die), the
  // data in flight (17), core 15 (2).
  CHECK(b.critical.cores == std::vector<int>{0, 15});
  CHECK(b.critical.transfers == 1);
  CHECK(b.critical.cycles[std::size_t(Activity::Compute)] == 7);
  CHECK(b.critical.cycles[std::size_t(Activity::OnDie)] == 32);
}

TEST_CASE("breakdown: a transfer to another die counts as die-edge, a put with no waiter is not on the path") {
  ArchConfig two = mesh4x4();
  setParam(two, "system.die_cols", "2", "t");
  validate(two);
  // Core 0 puts 640 B to core 7 (across the edge), which waits for it; core 1 (same die) gets a
  // put nobody waits for.
  const Program a = assemble("  li r3, 640\n  li r9, 7\n  put r9, r0, r0, r3, 1\n  li r8, 1\n  put r8, r0, r0, r3, none\n  halt\n", "a.tasm");
  const Program b = assemble("  swait 1, 1\n  halt\n", "b.tasm");
  const auto r = runtime::runPrograms(two, {{0, &a}, {7, &b}}, {});
  REQUIRE(r.error.empty());
  using tatami::tlm::Activity;
  const auto& bd = r.breakdown;
  REQUIRE(bd.dies.size() == 2);
  CHECK(bd.dies[0].die == "(0,0)");
  CHECK(bd.dies[1].die == "(0,1)");
  CHECK(bd.dies[1].cycles[std::size_t(Activity::DieEdge)] > 0);
  CHECK(bd.dies[1].cycles[std::size_t(Activity::OnDie)] == 0);
  CHECK(bd.dies[0].cycles[std::size_t(Activity::DieEdge)] > 0);  // core 0's first put streams across
  CHECK(bd.critical.cores == std::vector<int>{0, 7});
  CHECK(bd.critical.cycles[std::size_t(Activity::DieEdge)] > 0);
  std::uint64_t path = 0;
  for (std::uint64_t v : bd.critical.cycles) path += v;
  CHECK(path == bd.cycles);
}

TEST_CASE("a core keeps step with the kernel only for semaphores another core signals, and its cycles do not depend on it") {
  // Which semaphores other cores can signal: a put's and a sincr's; not a get's, an HBM read's or
  // a local DMA's, whose completions reach the core that issued them.
  const Program p = assemble("  li r9, 15\n  put r9, r2, r1, r3, 5\n  sincr r9, 7, 1\n  get r9, r1, r2, r3, 9\n"
                             "  hbmrd r4, r3, r2, 30\n  dma r2, r1, r3, 4\n  put r9, r2, r1, r3, none\n  halt\n",
                             "m.tasm");
  CHECK(tatami::tlm::remoteSemaphores({&p}) == ((std::uint64_t(1) << 5) | (std::uint64_t(1) << 7)));
  // Core 0: thread 1 waits for thread 0's sinc (semaphore 1, local) while thread 0 computes, then
  // puts to core 15 (semaphore 2); core 15: thread 1 waits for that put while thread 0 computes
  // and its own DMA completes (semaphore 4, local). Whether a core runs ahead of the kernel by one
  // cycle or a million, the cycles are the same.
  const std::string core0 =
      ".init 0 f32 random 4096 7 0 1\n"
      "  li r1, 0\n  li r2, 4096\n  li r3, 0x8000\n  vmuls.f32 r3, r1, r0, r2\n  vexp.f32 r3, r3, r2\n  sinc 1, 1\n  halt\n"
      "t1: swait 1, 1\n  li r1, 0x8000\n  li r2, 0x10000\n  li r3, 2048\n  li r9, 15\n  put r9, r2, r1, r3, 2\n  halt\n"
      ".thread 1 t1\n";
  const std::string core15 =
      ".init 0 f32 random 4096 9 0 1\n"
      "  li r1, 0\n  li r2, 4096\n  li r3, 0x8000\n  vexp.f32 r3, r1, r2\n  li r4, 0x20000\n  li r5, 8192\n"
      "  dma r4, r3, r5, 4\n  swait 4, 1\n  vmuls.f32 r3, r3, r0, r2\n  halt\n"
      "t1: swait 2, 1\n  li r1, 0x10000\n  li r2, 512\n  vexp.f32 r1, r1, r2\n  halt\n"
      ".thread 1 t1\n";
  std::vector<std::uint64_t> cycles;
  for (const char* quantum : {"1", "1000000"}) {
    ArchConfig c = mesh4x4();
    setParam(c, "sim.quantum_cycles", quantum, "t");
    const Run r = run2(core0, core15, c);
    REQUIRE(r.result.error.empty());
    // Core 15's second thread waited for the put, which left core 0 after its first thread's work.
    CHECK(r.core(15).threads[1].stallSemaphore > 0);
    CHECK(r.core(0).threads[1].stallSemaphore > 0);
    cycles.push_back(r.core(0).cycles);
    cycles.push_back(r.core(15).cycles);
    cycles.push_back(r.core(15).threads[1].stallSemaphore);
  }
  CHECK(cycles[0] == cycles[3]);
  CHECK(cycles[1] == cycles[4]);
  CHECK(cycles[2] == cycles[5]);
}
