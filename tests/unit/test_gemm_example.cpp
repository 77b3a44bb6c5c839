// examples/gemm/gemm.tasm: its C equals, bit for bit, a plain host loop that accumulates in FP32
// in the order docs/isa.md defines, and it keeps the matrix units at least 90% busy.
#include <doctest/doctest.h>

#include <cstring>

#include "tatami/arch/assembler.h"
#include "tatami/arch/formats.h"
#include "tatami/runtime/run.h"

using namespace tatami;

namespace {

const runtime::SramImage& output(const runtime::RunResult& r, const std::string& name) {
  for (const auto& o : r.outputs)
    if (o.name == name) return o;
  FAIL("no output " << name);
  return r.outputs.front();
}

}  // namespace

TEST_CASE("the GEMM example is exact and keeps the matrix units busy") {
  const Program program = loadProgramFile(TATAMI_SOURCE_DIR "/examples/gemm/gemm.tasm");
  const ArchConfig config;
  const runtime::RunResult r = runtime::runProgram(config, program, {});
  REQUIRE(r.error.empty());

  // Panels as the example lays them out: A panel ib holds A[ib*16 + i][k] at (ib*256 + k)*16 + i.
  const auto& aOut = output(r, "A");
  const auto& bOut = output(r, "B");
  const auto& cOut = output(r, "C");
  std::vector<std::uint16_t> ap(65536), bp(65536);
  std::memcpy(ap.data(), aOut.bytes.data(), ap.size() * 2);
  std::memcpy(bp.data(), bOut.bytes.data(), bp.size() * 2);
  const auto A = [&](int row, int k) { return bf16ToFp32(ap[std::size_t(((row / 16) * 256 + k) * 16 + row % 16)]); };
  const auto B = [&](int k, int col) { return bf16ToFp32(bp[std::size_t(((col / 16) * 256 + k) * 16 + col % 16)]); };
  std::vector<float> c(65536);
  std::memcpy(c.data(), cOut.bytes.data(), c.size() * 4);

  std::size_t mismatches = 0;
  for (int row = 0; row < 256; ++row)
    for (int col = 0; col < 256; ++col) {
      float acc = 0.0f;  // mmaz starts from +0; products rounded, then added, k ascending
      for (int k = 0; k < 256; ++k) {
        const float p = A(row, k) * B(k, col);
        acc = acc + p;
      }
      if (floatBits(acc) != floatBits(c[std::size_t(row * 256 + col)])) ++mismatches;
    }
  CHECK(mismatches == 0);
  CHECK(c[0] != 0.0f);  // the inputs are not all zero

  CHECK(r.stats.matrixFlops == 2ull * 256 * 256 * 256);
  const double util = r.matrixUtilization(config);
  INFO("matrix utilization ", util, " over ", r.stats.cycles, " cycles");
  CHECK(util >= 0.90);
  // Operands stream through the SRAM read ports: 16 KiB of panels per tile, 256 tiles.
  CHECK(r.stats.readPortBusy[0] + r.stats.readPortBusy[1] == 256ull * 16384 / 64);

  runtime::RunOptions timingOnly;
  timingOnly.timingOnly = true;
  const runtime::RunResult t = runtime::runProgram(config, program, timingOnly);
  CHECK(t.stats.cycles == r.stats.cycles);
  CHECK(t.stats.unitBusy == r.stats.unitBusy);
}
