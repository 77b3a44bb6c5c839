// CoreTiming::usage, instruction class by instruction class, against the formulas of
// docs/timing.md evaluated here by hand for the D1 preset (64 B ports, 2 read + 1 write, 16 FP32
// FMA per cycle, vector latency 4, special functions 4 cycles per vector, matrix latency 8, DMA
// setup 16, NoC 64 B/cycle each way).
#include <doctest/doctest.h>

#include "tatami/arch/assembler.h"
#include "tatami/arch/core_timing.h"

using namespace tatami;

namespace {

Usage usageOf(const std::string& line, const std::vector<std::uint64_t>& regs, const ArchConfig& config = {}) {
  const Program p = assemble(line + "\n", "u.tasm");
  ThreadState t;
  for (std::size_t i = 0; i < regs.size(); ++i) t.r[i + 1] = regs[i];
  const CoreTiming timing(config);
  return timing.usage(p.code[0], resolveOperands(t, p.code[0]));
}

std::vector<std::uint64_t> v(const PortCycles& p) { return p.toVector(); }

}  // namespace

TEST_CASE("scalar and sync instructions take scalar_cycles") {
  for (const char* line : {"add r1, r2, 3", "ld r1, [r2]", "beq r1, r2, 0", "sinc 1, 1", "bar"}) {
    const std::string text = std::string(line) == "beq r1, r2, 0" ? "x: beq r1, r2, x" : line;
    const Usage u = usageOf(text, {});
    CHECK(u.occupancy == 1);
    CHECK(u.completion == 1);
    CHECK(u.threadCycles == 1);
    CHECK(u.readPortCycles.empty());
  }
  ArchConfig slow;
  setParam(slow, "core.scalar_cycles", "3", "t");
  CHECK(usageOf("add r1, r2, 3", {}, slow).threadCycles == 3);
}

TEST_CASE("vector instructions: lines per port, compute, latency") {
  // r1 = d, r2 = a, r3 = b, r4 = n.
  Usage u = usageOf("vadd.f32 r1, r2, r3, r4", {0, 0, 0, 160});  // 640 B = 10 lines per operand
  CHECK(v(u.readPortCycles) == std::vector<std::uint64_t>{10, 10});
  CHECK(v(u.writePortCycles) == std::vector<std::uint64_t>{10});
  CHECK(u.occupancy == 10);
  CHECK(u.writeOffset == 4);
  CHECK(u.completion == 14);
  CHECK(u.threadCycles == 1);
  u = usageOf("vfma.bf16 r1, r2, r3, r4, r5", {0, 0, 0, 0, 320});  // 10 lines each, 3 sources on 2 ports
  CHECK(v(u.readPortCycles) == std::vector<std::uint64_t>{20, 10});
  CHECK(u.occupancy == 20);
  u = usageOf("vrsqrt.f32 r1, r2, r3", {0, 0, 160});  // 10 vectors x 4 cycles
  CHECK(v(u.readPortCycles) == std::vector<std::uint64_t>{10});
  CHECK(u.occupancy == 40);
  CHECK(u.completion == 44);
  u = usageOf("vcvt.f32.bf16 r1, r2, r3", {0, 0, 320});  // reads 1280 B (20 lines), writes 640 B (10)
  CHECK(v(u.readPortCycles) == std::vector<std::uint64_t>{20});
  CHECK(v(u.writePortCycles) == std::vector<std::uint64_t>{10});
  CHECK(u.occupancy == 20);
  u = usageOf("vrowsum.f32 r1, r2, r3, r4", {0, 0, 10, 100});  // 4000 B in = 63 lines, 40 B out = 1 line
  CHECK(v(u.readPortCycles) == std::vector<std::uint64_t>{63});
  CHECK(v(u.writePortCycles) == std::vector<std::uint64_t>{1});
  CHECK(u.occupancy == 63);
  u = usageOf("vfill.i32 r1, r2, r3", {0, 7, 64});  // no reads, 4 lines written
  CHECK(u.readPortCycles.empty());
  CHECK(u.occupancy == 4);
  ArchConfig wide;
  setParam(wide, "core.fp32_fma_per_cycle", "32", "t");  // twice the compute, same ports
  CHECK(usageOf("vrowsum.f32 r1, r2, r3, r4", {0, 0, 10, 100}, wide).occupancy == 63);
}

TEST_CASE("matrix instructions: stream, compute, C traffic") {
  // r1 = C, r2 = A, r3 = B, r4 = K.
  Usage u = usageOf("mma.bf16 r1, r2, r3, r4", {0, 0, 0, 64});
  CHECK(v(u.readPortCycles) == std::vector<std::uint64_t>{64, 16});
  CHECK(v(u.writePortCycles) == std::vector<std::uint64_t>{16});
  CHECK(u.occupancy == 64);
  CHECK(u.writeOffset == 72);
  CHECK(u.completion == 88);
  u = usageOf("mmaz.e5m2 r1, r2, r3, r4", {0, 0, 0, 64});
  CHECK(v(u.readPortCycles) == std::vector<std::uint64_t>{32});
  CHECK(u.occupancy == 64);
  ArchConfig onePort;
  setParam(onePort, "core.sram_read_ports", "1", "t");
  u = usageOf("mma.bf16 r1, r2, r3, r4", {0, 0, 0, 64}, onePort);
  CHECK(v(u.readPortCycles) == std::vector<std::uint64_t>{80});  // stream and C share the port
  CHECK(u.occupancy == 80);
}

TEST_CASE("DMA instructions: setup and NoC cycles") {
  Usage u = usageOf("dma r1, r2, r3, none", {0, 0, 1000});  // 16 cycles of 64 B
  CHECK(u.nocReadCycles == 16);
  CHECK(u.occupancy == 32);
  CHECK(u.completion == 32);
  u = usageOf("dma2d r1, r2, r3, r4, r5, r6, none", {0, 0, 10, 100, 128, 128});  // 10 rows x 2 cycles
  CHECK(u.nocReadCycles == 20);
  CHECK(u.occupancy == 36);
  // 3 planes of 4 rows of 100 B: 12 rows x 2 cycles, after the 16 cycles of setup.
  u = usageOf("dma3d r1, r2, r3, r4, r5, none", {0, 0, 100 | (std::uint64_t(4) << 24) | (std::uint64_t(3) << 44), 128, 128});
  CHECK(u.nocReadCycles == 24);
  CHECK(u.nocWriteCycles == 24);
  CHECK(u.occupancy == 40);
  u = usageOf("gather r1, r2, r3, r4, r5, none", {0, 0, 0, 100, 8});  // 400 B of indices: 7, then 100
  CHECK(u.nocReadCycles == 107);
  CHECK(u.nocWriteCycles == 100);
  CHECK(u.occupancy == 16 + 107);
  u = usageOf("sincr r1, 2, 1", {0});
  CHECK(u.occupancy == 1);
}
