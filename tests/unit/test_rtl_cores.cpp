// RTL cores (sim.rtl_cores): a program's values come from the verilated datapath alone, its cycles
// equal the timing model's, and the lockstep check catches a flipped result bit and an extra cycle.
// Skipped in builds without Verilator.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "tatami/arch/assembler.h"
#include "tatami/runtime/run.h"
#include "tatami/tlm/rtl_datapath.h"

using namespace tatami;

namespace {

const char* kProgram = R"(
.init 0 f32 random 256 1 -2 2
.init 1024 f32 random 256 2 -2 2
.init 4096 bf16 random 512 3 -1 1
.init 8192 bf16 random 512 4 -1 1
.output S 2048 f32 256
.output C 12288 f32 16x16
.output H 3072 bf16 256
.output W 16384 f32 256
    li r1, 2048
    li r2, 0
    li r3, 1024
    li r4, 256
    vadd.f32 r1, r2, r3, r4
    vmul.f32 r1, r1, r3, r4
    vfma.f32 r1, r1, r3, r2, r4
    li r9, 3072
    vcvt.f32.bf16 r9, r1, r4
    li r10, 16384
    vcvt.bf16.f32 r10, r9, r4
    li r5, 12288
    li r6, 4096
    li r7, 8192
    li r8, 32
    mmaz.bf16 r5, r6, r7, r8
    halt
)";

runtime::RunResult runOn(bool rtl, bool check, int fault) {
  ArchConfig config;
  config.sim.rtl_cores = rtl ? "all" : "none";
  runtime::RunOptions options;
  options.rtlCheck = check;
  options.rtlFault = fault;
  return runtime::runProgram(config, assemble(kProgram, "rtl.tasm"), options);
}

/// Runs `program` on a C++ core and on an RTL core under --rtl-check: both must run, with the same
/// outputs and cycles. Returns the RTL run.
runtime::RunResult sameOnRtl(const char* program, const char* file) {
  ArchConfig cpp, rtl;
  rtl.sim.rtl_cores = "all";
  runtime::RunOptions check;
  check.rtlCheck = true;
  const Program p = assemble(program, file);
  const runtime::RunResult a = runtime::runProgram(cpp, p, {}), b = runtime::runProgram(rtl, p, check);
  REQUIRE(a.error.empty());
  REQUIRE(b.error.empty());
  CHECK(a.outputHash == b.outputHash);
  CHECK(a.stats.cycles == b.stats.cycles);
  return b;
}

}  // namespace

TEST_CASE("an RTL core gives the C++ core's values and cycles, and the lockstep check catches faults") {
  if (!tatami::tlm::RtlDatapath::available()) {
    MESSAGE("built without Verilator: no RTL cores");
    return;
  }
  const runtime::RunResult cpp = runOn(false, false, 0), rtl = runOn(true, true, 0);
  REQUIRE(cpp.error.empty());
  REQUIRE(rtl.error.empty());
  CHECK(rtl.outputHash == cpp.outputHash);
  CHECK(rtl.stats.cycles == cpp.stats.cycles);
  // The values are the RTL's alone: a fault in its result shows in the output without the check ...
  const runtime::RunResult flipped = runOn(true, false, 1);
  REQUIRE(flipped.error.empty());
  CHECK(flipped.outputHash != cpp.outputHash);
  // ... and stops the run with it, naming the instruction and the element.
  const runtime::RunResult caught = runOn(true, true, 1);
  CHECK(caught.error.find("(vadd.f32 r1, r2, r3, r4): rtl-check: element 0 differs") != std::string::npos);
  // An extra cycle of RTL latency is caught too.
  const runtime::RunResult late = runOn(true, true, 2);
  CHECK(late.error.find("(vadd.f32 r1, r2, r3, r4): rtl-check: cycles differ: the RTL takes operands for 16 cycles and 5 more") !=
        std::string::npos);
}

TEST_CASE("CFP8 matrix tiles on an RTL core use the thread's exponent bias, as the C++ core does") {
  if (!tatami::tlm::RtlDatapath::available()) return;
  const char* program = R"(
.init 4096 e4m3 random 1024 3 -4 4
.init 8192 e4m3 random 1024 4 -4 4
.init 16384 e5m2 random 1024 5 -4 4
.init 20480 e5m2 random 1024 6 -4 4
.output C 12288 f32 16x16
.output D 24576 f32 16x16
    li r5, 12288
    li r6, 4096
    li r7, 8192
    li r8, 64
    setbias.e4m3 3
    mmaz.e4m3 r5, r6, r7, r8
    mma.e4m3 r5, r6, r7, r8
    li r5, 24576
    li r6, 16384
    li r7, 20480
    setbias.e5m2 20
    mmaz.e5m2 r5, r6, r7, r8
    halt
)";
  CHECK(sameOnRtl(program, "cfp8.tasm").stats.matrixFlops == 3u * 2u * 256u * 64u);
}

TEST_CASE("BF16 and CFP8 vector lanes, CFP8 conversions and stochastic rounding on an RTL core match the C++ core") {
  if (!tatami::tlm::RtlDatapath::available()) return;
  const char* program = R"(
.init 0 f32 random 512 1 -300 300
.init 4096 bf16 random 512 2 -3 3
.init 8192 bf16 random 512 3 -3 3
.init 12288 e4m3 random 512 4 -2 2
.init 16384 e4m3 random 512 5 -2 2
.init 20480 e5m2 random 512 6 -8 8
.output A 24576 bf16 512
.output B 28672 e4m3 512
.output C 32768 e5m2 512
.output D 36864 bf16 512
.output E 40960 e4m3 512
.output F 45056 f32 512
    li r1, 512
    setbias.e4m3 4
    setbias.e5m2 12
    li r2, 24576
    li r3, 4096
    li r4, 8192
    vadd.bf16 r2, r3, r4, r1
    vfma.bf16 r2, r2, r4, r3, r1
    vmin.bf16 r2, r2, r3, r1
    li r5, 28672
    li r6, 12288
    li r7, 16384
    vmul.e4m3 r5, r6, r7, r1
    vsub.e4m3 r5, r5, r6, r1
    vmax.e4m3 r5, r5, r7, r1
    li r8, 32768
    li r9, 20480
    vfma.e5m2 r8, r9, r9, r9, r1
    li r10, 0
    li r11, 77
    setseed r11
    li r12, 36864
    li r13, 9
    li r14, 1000
    vcvtsr.f32.bf16 r12, r10, r1, r13, r14
    li r15, 40960
    vcvtsr.f32.e4m3 r15, r10, r1, r13, r14
    vcvt.e4m3.e5m2 r8, r15, r1
    vcvt.e5m2.bf16 r2, r8, r1
    li r16, 45056
    vcvt.e4m3.f32 r16, r5, r1
    halt
)";
  sameOnRtl(program, "narrow.tasm");
  // A flipped bit of a BF16 result is named as a 16-bit element.
  ArchConfig rtl;
  rtl.sim.rtl_cores = "all";
  runtime::RunOptions check;
  check.rtlCheck = true, check.rtlFault = 1;
  const runtime::RunResult caught = runtime::runProgram(rtl, assemble(program, "narrow.tasm"), check);
  CHECK(caught.error.find("(vadd.bf16 r2, r3, r4, r1): rtl-check: element 0 differs: RTL 0x") != std::string::npos);
  CHECK(caught.error.find("reference semantics 0x") != std::string::npos);
}

TEST_CASE("every RTL operation takes the timing model's cycles, over types and lengths (lockstep check)") {
  if (!tatami::tlm::RtlDatapath::available()) return;
  // One instruction per program, on an RTL core under --rtl-check (which stops the run when the
  // RTL's cycles or values differ from the timing model's and the reference semantics'), and on a
  // C++ core: the same outputs and cycles.
  const char* types[] = {"f32", "bf16", "e4m3", "e5m2"};
  const auto size = [](const std::string& t) { return t == "f32" ? 4 : t == "bf16" ? 2 : 1; };
  const auto init = [&](const std::string& t, int addr, int count, int seed) {
    return ".init " + std::to_string(addr) + " " + t + " random " + std::to_string(count) + " " + std::to_string(seed) + " -3 3\n";
  };
  int programs = 0;
  const auto check = [&](const std::string& program) {
    INFO(program);
    sameOnRtl(program.c_str(), "sweep.tasm");
    ++programs;
  };
  const std::string regs = "    li r1, 196608\n    li r2, 0\n    li r3, 65536\n    li r4, 131072\n    li r6, 5\n    li r7, 77\n    setseed r7\n";
  for (const std::string t : types)
    for (int vectors : {1, 3, 16}) {
      const int n = vectors * 64 / size(t);
      const std::string data = init(t, 0, n, 1) + init(t, 65536, n, 2) + init(t, 131072, n, 3) + ".output D 196608 " + t + " " +
                               std::to_string(n) + "\n" + regs + "    li r5, " + std::to_string(n) + "\n";
      for (const char* op : {"vadd", "vsub", "vmul", "vmax", "vmin"}) check(data + "    " + op + "." + t + " r1, r2, r3, r5\n    halt\n");
      check(data + "    vfma." + t + " r1, r2, r3, r4, r5\n    halt\n");
    }
  for (const std::string src : types)
    for (const std::string dst : types)
      for (int vectors : {1, 5}) {
        const int n = vectors * 64 / std::min(size(src), size(dst));  // whole vectors on both sides
        const std::string data = init(src, 0, n, 4) + ".output D 196608 " + dst + " " + std::to_string(n) + "\n" + regs + "    li r5, " +
                                 std::to_string(n) + "\n";
        check(data + "    vcvt." + src + "." + dst + " r1, r2, r5\n    halt\n");
        if (dst != "f32") check(data + "    vcvtsr." + src + "." + dst + " r1, r2, r5, r6, r7\n    halt\n");
      }
  for (const std::string t : {"bf16", "e4m3", "e5m2"})
    for (int k : {4, 16, 64}) {
      const int elems = 16 * k;
      const std::string data = init(t, 0, elems, 5) + init(t, 65536, elems, 6) + init("f32", 196608, 256, 7) + ".output C 196608 f32 16x16\n" +
                               regs + "    li r5, " + std::to_string(k) + "\n";
      check(data + "    mmaz." + t + " r1, r2, r3, r5\n    halt\n");
      check(data + "    mma." + t + " r1, r2, r3, r5\n    halt\n");
    }
  MESSAGE(programs << " one-instruction programs: RTL and timing model agree");
  CHECK(programs == 4 * 3 * 6 + 16 * 2 + 12 * 2 + 3 * 3 * 2);
}

TEST_CASE("waveforms of an RTL core's blocks for a window of cycles") {
  if (!tatami::tlm::RtlDatapath::available()) return;
  ArchConfig config;
  config.sim.rtl_cores = "all";
  runtime::RunOptions options;
  options.rtlWaves = "w_rtl";
  const runtime::RunResult all = runtime::runProgram(config, assemble(kProgram, "rtl.tasm"), options);
  REQUIRE(all.error.empty());
  const auto read = [](const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  const std::string vector = read("w_rtl.core0.vector.vcd"), matrix = read("w_rtl.core0.matrix.vcd");
  CHECK(vector.find("in_valid") != std::string::npos);
  CHECK(vector.find("latency_cycles") != std::string::npos);
  CHECK(matrix.find("row_valid") != std::string::npos);
  // The vadd starts at core cycle 4 (after four li): its first clock is at VCD time 8.
  CHECK(vector.find("\n#8\n") != std::string::npos);
  // A window that ends before the first RTL instruction dumps no cycle.
  options.rtlWaves = "w_none", options.rtlWavesFrom = 0, options.rtlWavesTo = 2;
  REQUIRE(runtime::runProgram(config, assemble(kProgram, "rtl.tasm"), options).error.empty());
  CHECK(read("w_none.core0.vector.vcd").find("\n#") == std::string::npos);
}
