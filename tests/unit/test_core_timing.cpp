// The TLM core's cycles against the formulas of docs/timing.md, worked by hand for each case:
// instruction classes, DMA overlapping matrix work, units contending for SRAM ports, hazards,
// semaphores and threads; faults and deadlocks; timing-only runs.
#include <doctest/doctest.h>

#include <map>
#include <regex>

#include "tatami/arch/assembler.h"
#include "tatami/arch/config_files.h"
#include "tatami/runtime/run.h"

using namespace tatami;

namespace {

runtime::RunResult run(const std::string& text, const std::vector<std::pair<std::string, std::string>>& set = {},
                       bool timingOnly = false) {
  ArchConfig config;
  for (const auto& [k, v] : set) setParam(config, k, v, "test");
  runtime::RunOptions options;
  options.timingOnly = timingOnly;
  return runtime::runProgram(config, assemble(text, "t.tasm"), options);
}

constexpr std::size_t kVector = std::size_t(Unit::Vector), kMatrix = std::size_t(Unit::Matrix), kDma = std::size_t(Unit::Dma);

const char* kVaddProgram = "  li r1, 0\n  li r2, 64\n  li r3, 128\n  li r4, 16\n  vadd.f32 r3, r1, r2, r4\n  halt\n";

}  // namespace

TEST_CASE("a one-vector add: scalar issue, vector latency and occupancy") {
  // li at cycles 0..3; vadd starts at 4, occupies 1 cycle, writes after 4 cycles of latency:
  // complete at 4 + 4 + 1 = 9. halt at 5.
  const auto r = run(kVaddProgram);
  REQUIRE(r.error.empty());
  CHECK(r.stats.cycles == 9);
  CHECK(r.stats.instructions == 6);
  CHECK(r.stats.unitBusy[kVector] == 1);
  CHECK(r.stats.readPortBusy == std::vector<std::uint64_t>{1, 1});
  CHECK(r.stats.writePortBusy == std::vector<std::uint64_t>{1});
  CHECK(r.stats.vectorFlops == 16);
  // The latency is a parameter: 10 cycles of latency make it 4 + 10 + 1.
  CHECK(run(kVaddProgram, {{"core.vector_latency_cycles", "10"}}).stats.cycles == 15);
}

TEST_CASE("vector occupancy: lines per port, and the special-function rate") {
  // 1024 FP32 = 64 lines per operand: each source on its own read port, 64 cycles.
  const auto add = run("  li r1, 0\n  li r2, 4096\n  li r3, 8192\n  li r4, 1024\n  vadd.f32 r3, r1, r2, r4\n  halt\n");
  CHECK(add.stats.cycles == 4 + 4 + 64);
  // vexp: 64 vectors x 4 cycles = 256 cycles of compute; one read port.
  const auto ex = run("  li r1, 0\n  li r2, 4096\n  li r4, 1024\n  vexp.f32 r2, r1, r4\n  halt\n");
  CHECK(ex.stats.cycles == 3 + 4 + 256);
  CHECK(ex.stats.readPortBusy == std::vector<std::uint64_t>{64, 0});
  // Three sources on two read ports: a and c share port 0 (128 cycles).
  const auto fma = run("  li r1, 0\n  li r2, 4096\n  li r3, 8192\n  li r4, 1024\n  vfma.f32 r3, r1, r2, r1, r4\n  halt\n");
  CHECK(fma.stats.cycles == 4 + 4 + 128);
  // BF16 moves the same bytes per cycle: 2048 elements are 64 lines.
  const auto bf = run("  li r1, 0\n  li r2, 4096\n  li r3, 8192\n  li r4, 2048\n  vadd.bf16 r3, r1, r2, r4\n  halt\n");
  CHECK(bf.stats.cycles == 4 + 4 + 64);
}

TEST_CASE("a matrix instruction: stream, pipeline latency and C write-back") {
  // K = 256 BF16: A and B panels are 2 x 8 KiB = 256 lines on one read port; 256 x 256 MACs at
  // 256 per cycle = 256 cycles; C (16 lines) written from 256 + 8 to 280 after the start at 4.
  const char* text = "  li r1, 0\n  li r2, 8192\n  li r3, 16384\n  li r4, 256\n  mmaz.bf16 r3, r1, r2, r4\n  halt\n";
  const auto r = run(text);
  CHECK(r.stats.cycles == 4 + 256 + 8 + 16);
  CHECK(r.stats.unitBusy[kMatrix] == 256);
  CHECK(r.stats.readPortBusy == std::vector<std::uint64_t>{256, 0});
  CHECK(r.stats.writePortBusy == std::vector<std::uint64_t>{16});
  CHECK(r.stats.matrixFlops == 2 * 16 * 16 * 256);
  // mma also reads C (16 lines) on the other port, in parallel: same cycles.
  const auto acc = run("  li r1, 0\n  li r2, 8192\n  li r3, 16384\n  li r4, 256\n  mma.bf16 r3, r1, r2, r4\n  halt\n");
  CHECK(acc.stats.cycles == 284);
  CHECK(acc.stats.readPortBusy == std::vector<std::uint64_t>{256, 16});
  // CFP8 panels are half the bytes: 128 lines, still 256 cycles of MACs.
  const auto f8 = run("  li r1, 0\n  li r2, 8192\n  li r3, 16384\n  li r4, 256\n  mmaz.e4m3 r3, r1, r2, r4\n  halt\n");
  CHECK(f8.stats.cycles == 284);
  CHECK(f8.stats.readPortBusy == std::vector<std::uint64_t>{128, 0});
  // Twice the units: 128 cycles of MACs, but the stream still needs 256 port cycles.
  CHECK(run(text, {{"core.matrix_units", "8"}}).stats.cycles == 284);
  // ... unless the ports are twice as wide.
  CHECK(run(text, {{"core.matrix_units", "8"}, {"core.sram_port_bytes", "128"}}).stats.cycles == 4 + 128 + 8 + 8);
}

TEST_CASE("back-to-back matrix instructions wait for the unit") {
  const auto r = run("  li r1, 0\n  li r2, 8192\n  li r3, 16384\n  li r4, 256\n  li r5, 17408\n"
                     "  mmaz.bf16 r3, r1, r2, r4\n  mmaz.bf16 r5, r1, r2, r4\n  halt\n");
  // First at 5; the second is ready at 6 but starts when the unit frees at 261; done at 261 + 280.
  CHECK(r.stats.cycles == 261 + 280);
  CHECK(r.stats.threads[0].stallUnit == 255);
  CHECK(r.stats.unitBusy[kMatrix] == 512);
}

TEST_CASE("DMA overlaps matrix work") {
  // mmaz at 5; the DMA of 4096 bytes issues at 6 and takes 16 setup + 64 cycles: it finishes
  // long before the matrix result, which alone sets the run's length.
  const auto r = run("  li r1, 0\n  li r2, 8192\n  li r3, 16384\n  li r4, 256\n  li r5, 4096\n"
                     "  mmaz.bf16 r3, r1, r2, r4\n  li r6, 32768\n  dma r6, r1, r5, none\n  halt\n");
  CHECK(r.stats.cycles == 5 + 280);
  CHECK(r.stats.unitBusy[kDma] == 80);
  CHECK(r.stats.nocReadBusy == 64);
  CHECK(r.stats.threads[0].stallUnit == 0);
  CHECK(r.stats.threads[0].stallPort == 0);
}

TEST_CASE("units contend for SRAM read ports") {
  // The matrix stream holds read port 0 for [5, 261). A two-source vector add needs both read
  // ports: it waits until 261. A one-source vexp uses port 1 at once.
  const char* prefix = "  li r1, 0\n  li r2, 8192\n  li r3, 16384\n  li r4, 256\n  li r5, 16\n"
                       "  mmaz.bf16 r3, r1, r2, r4\n";
  const auto add = run(std::string(prefix) + "  li r6, 32768\n  vadd.f32 r6, r1, r2, r5\n  halt\n");
  // vadd ready at 7, starts at 261: 254 cycles of port stall.
  CHECK(add.stats.threads[0].stallPort == 254);
  CHECK(add.stats.cycles == 5 + 280);
  const auto ex = run(std::string(prefix) + "  li r6, 32768\n  vexp.f32 r6, r1, r5\n  halt\n");
  CHECK(ex.stats.threads[0].stallPort == 0);
  CHECK(ex.stats.readPortBusy == std::vector<std::uint64_t>{256, 1});
}

TEST_CASE("units contend for the SRAM write port") {
  // mmaz at 6 books the write port for [270, 286). A vmuls of 300 lines (on the free read port
  // 1), ready at 8, would write during [12, 312): it waits until its writes fit after 286, i.e.
  // starts at 282.
  const auto r = run("  li r1, 0\n  li r2, 8192\n  li r3, 16384\n  li r4, 256\n  li r5, 4800\n  li r7, 131072\n"
                     "  mmaz.bf16 r3, r1, r2, r4\n  li r6, 65536\n  vmuls.f32 r6, r7, r0, r5\n  halt\n");
  CHECK(r.stats.threads[0].stallHazard == 0);
  CHECK(r.stats.threads[0].stallPort == 282 - 8);
  CHECK(r.stats.cycles == 282 + 4 + 300);
}

TEST_CASE("a thread waits for its own earlier results (read after write)") {
  // vadd at 4 completes at 9; li at 5; vexp is ready at 6 but reads the vadd's output: starts at
  // 9, takes 4 cycles for its one vector, plus latency: done at 17.
  const auto r = run("  li r1, 0\n  li r2, 64\n  li r3, 128\n  li r4, 16\n  vadd.f32 r3, r1, r2, r4\n"
                     "  li r5, 192\n  vexp.f32 r5, r3, r4\n  halt\n");
  CHECK(r.stats.threads[0].stallHazard == 3);
  CHECK(r.stats.cycles == 17);
}

TEST_CASE("a DMA signals its semaphore when it completes") {
  // dma at 3: 16 + 64 cycles, done at 83. swait at 4 blocks until 83, then halt at 84.
  const auto r = run("  li r1, 0\n  li r2, 4096\n  li r3, 4096\n  dma r2, r1, r3, 0\n  swait 0, 1\n  halt\n");
  REQUIRE(r.error.empty());
  CHECK(r.stats.cycles == 85);
  CHECK(r.stats.threads[0].stallSemaphore == 79);
}

TEST_CASE("threads share the core: semaphores and barriers") {
  // Thread 1 blocks in swait at 0; thread 0 signals at 3 (visible at 4); thread 1 resumes at 4.
  const auto r = run("  li r1, 1\n  li r2, 2\n  li r3, 3\n  sinc 1, 1\n  halt\n"
                     "worker: swait 1, 1\n  halt\n.thread 1 worker\n");
  CHECK(r.stats.cycles == 6);
  CHECK(r.stats.threads[1].stallSemaphore == 4);
  CHECK(r.stats.threads[0].instructions == 5);
  // A barrier releases when the last thread is ready after it: thread 0 reaches it at 3 (ready
  // at 4), thread 1 at 0 (ready at 1, then waits 3 cycles); both halt at 4.
  const auto b = run("  li r1, 1\n  li r2, 2\n  li r3, 3\n  bar\n  halt\nworker: bar\n  halt\n.thread 1 worker\n");
  CHECK(b.stats.threads[1].stallBarrier == 3);
  CHECK(b.stats.cycles == 5);
}

TEST_CASE("faults and deadlocks stop the run with core, thread, pc and instruction") {
  const auto dead = run("  li r1, 1\n  swait 0, 1\n  halt\n");
  CHECK(dead.error ==
        "deadlock: every thread is waiting and nothing is pending:\n  core 0, thread 0, pc 1 (swait 0, 1) waits for "
        "semaphore 0 (value 0)");
  const auto oob = run("  li r1, 1310720\n  li r2, 16\n  vadd.f32 r1, r1, r1, r2\n  halt\n");
  CHECK(oob.error ==
        "core 0, thread 0, pc 2 (vadd.f32 r1, r1, r1, r2): SRAM access out of range: vector source [0x140000, "
        "0x140040) (64 bytes) does not fit in the SRAM of 1310720 bytes [0x0, 0x140000)");
  CHECK(oob.stats.instructions == 2);  // what ran before the fault is kept
  const auto threads = run("  halt\nw: halt\n.thread 3 w\n", {{"core.threads", "2"}});
  CHECK(threads.error == "core 0: loading the program: .thread 3: the core has only 2 hardware threads (core.threads)");
}

TEST_CASE("timing-only runs give the same cycles and statistics") {
  const char* text = "  li r1, 0\n  li r2, 8192\n  li r3, 16384\n  li r4, 256\n  li r5, 4096\n"
                     ".init 0 bf16 random 8192 3 -1 1\n"
                     "  mma.bf16 r3, r1, r2, r4\n  li r6, 32768\n  dma r6, r1, r5, 2\n  li r7, 16\n"
                     "  vexp.f32 r3, r3, r7\n  vadd.f32 r3, r3, r6, r7\n  swait 2, 1\n  halt\n";
  const auto full = run(text), fast = run(text, {}, true);
  CHECK(full.stats.cycles == fast.stats.cycles);
  CHECK(full.stats.unitBusy == fast.stats.unitBusy);
  CHECK(full.stats.readPortBusy == fast.stats.readPortBusy);
  CHECK(full.stats.threads[0].stallHazard == fast.stats.threads[0].stallHazard);
  CHECK(full.stats.matrixFlops == fast.stats.matrixFlops);
}

TEST_CASE("runs are deterministic") {
  const char* text = ".init 0 f32 random 4096 9 -2 2\n  li r1, 0\n  li r2, 1024\n  li r3, 32768\n"
                     "  vexp.f32 r3, r1, r2\n  vrowsum.f32 r1, r3, r2, r2\n  halt\nw: li r1, 8\n  halt\n.thread 2 w\n";
  const auto a = run(text), b = run(text);
  CHECK(a.stats.cycles == b.stats.cycles);
  CHECK(a.outputHash == b.outputHash);
}

TEST_CASE("a trace holds every instruction, each unit's slices add up to its busy cycles") {
  ArchConfig config;
  runtime::RunOptions options;
  options.trace = true;
  const Program p = assemble(
      "  li r1, 0\n  li r2, 8192\n  li r3, 16384\n  li r4, 256\n  li r5, 4096\n"
      "  mma.bf16 r3, r1, r2, r4\n  li r6, 32768\n  dma r6, r1, r5, 2\n  li r7, 16\n"
      "  vexp.f32 r3, r3, r7\n  swait 2, 1\n  halt\nw: li r1, 1\n  sinc 5, 1\n  halt\n.thread 1 w\n",
      "t.tasm");
  const auto r = runtime::runProgram(config, p, options);
  REQUIRE(r.error.empty());
  REQUIRE(r.traces.size() == 1);
  std::array<std::uint64_t, kUnitCount> sum{};
  for (const auto& s : r.traces[0].slices) sum[std::size_t(s.unit)] += s.cycles;
  CHECK(sum == r.stats.unitBusy);
  CHECK(r.traces[0].slices.size() == r.stats.instructions);
  CHECK(r.traces[0].instructionText[5] == "mma.bf16 r3, r1, r2, r4");
  // The bytes each instruction moved through the SRAM ports: the mma reads A and B (256 x 16
  // BF16 each, 8 KiB) and reads and writes its 16 x 16 FP32 C (1 KiB each); the DMA reads and
  // writes 4 KiB through the NoC port; the vexp reads and writes 16 FP32 (one 64 B line each);
  // scalar instructions move none. Nothing crossed the mesh or reached HBM.
  std::map<std::uint32_t, std::uint32_t> sram;
  for (const auto& s : r.traces[0].slices) {
    CHECK(s.meshBytes == 0);
    CHECK(s.hbmBytes == 0);
    if (s.thread == 0) sram[s.pc] = s.sramBytes;
  }
  CHECK(sram.at(5) == 8192 + 8192 + 1024 + 1024);
  CHECK(sram.at(7) == 4096 + 4096);
  CHECK(sram.at(9) == 64 + 64);
  CHECK(sram.at(0) == 0);
}

TEST_CASE("a trace counts the bytes of puts and HBM reads at their levels") {
  ArchConfig config;
  // One die as a whole training tile, with an interface processor (HBM) on its edge.
  for (const char* s : {"tile.die_rows=1", "tile.die_cols=1", "dip.per_tile=1"}) applyOverride(config, s);
  runtime::RunOptions options;
  options.trace = true;
  // Core 0 puts 1 KiB into core 1 (whose semaphore 2 counts it) and reads 512 B from HBM.
  const Program p = assemble("  li r1, 0\n  li r2, 1\n  li r3, 4096\n  li r4, 1024\n  put r2, r3, r1, r4, 2\n  fence\n"
                             "  li r5, 512\n  hbmrd r1, r1, r5, 3\n  swait 3, 1\n  halt\n",
                             "t.tasm");
  const auto r = runtime::runProgram(config, p, options);
  REQUIRE(r.error.empty());
  std::map<std::uint32_t, tatami::tlm::TraceSlice> at;
  for (const auto& s : r.traces[0].slices) at[s.pc] = s;
  CHECK(at.at(4).meshBytes == 1024);
  CHECK(at.at(4).sramBytes == 1024);
  CHECK(at.at(4).hbmBytes == 0);
  CHECK(at.at(7).hbmBytes == 512);
  CHECK(at.at(7).meshBytes == 0);
  CHECK(at.at(7).sramBytes == 512);
}

TEST_CASE("fence holds its thread until everything it issued is complete, a signal after it tells another thread") {
  // Thread 0: li at 0..3; the vadd of 1,024 elements starts at 4, reads 64 lines on both ports
  // and completes at 4 + 64 + 4 (latency) = 72. The fence starts then (hazard stall 72 - 5 = 67),
  // takes 1 cycle; sinc at 73 is visible at 74. Thread 1 waits in swait until 74 (issued then,
  // 1 cycle), li 75, halt 76: the run ends at 77. With a nop in place of the fence the signal
  // comes at 7 and the run ends with the vadd, at 72.
  const std::string program =
      "  li r1, 0\n  li r2, 4096\n  li r3, 8192\n  li r4, 1024\n  vadd.f32 r3, r1, r2, r4\n  FENCE\n  sinc 48, 1\n  halt\n"
      "t1:\n  swait 48, 1\n  li r5, 1\n  halt\n.thread 1 t1\n";
  const auto fenced = run(std::regex_replace(program, std::regex("FENCE"), "fence"));
  REQUIRE(fenced.error.empty());
  CHECK(fenced.stats.cycles == 77);
  CHECK(fenced.stats.threads[0].stallHazard == 67);
  const auto unfenced = run(std::regex_replace(program, std::regex("FENCE"), "nop"));
  REQUIRE(unfenced.error.empty());
  CHECK(unfenced.stats.cycles == 72);
}
