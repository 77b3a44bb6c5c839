// Self-checking test of the verilated matrix engine against the accumulation order of
// docs/isa.md (for k: acc = fl32(acc + fl32(A[i][k] B[k][j])), NaN canonical), computed here with
// the arch numerics: random mmaz and mma tiles with BF16 panels (random bits, which include NaN,
// Inf and denormals; moderate values; exact cancellations) or CFP8 panels (1-4-3 and 1-5-2, every
// code, random biases 0..63), random K, gaps in the row stream and
// back-pressure on the result. Checks every element's bits, that a tile whose rows stream back to
// back is ready K + LATENCY cycles after its first row, and that LATENCY equals the config's
// core.matrix_latency_cycles.
//
//   rtl_matrix_engine_test [TILES]   (default 10000; the `long` test runs 100000)
// Ends with one PASS or FAIL line.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/arch/formats.h"
#include "tatami/arch/numerics.h"
#include "tatami/rtl/matrix_engine.h"

using tatami::rtl::MatrixEngine;

int main(int argc, char** argv) {
  const long tiles = argc > 1 ? std::atol(argv[1]) : 10000;
  MatrixEngine dut;
  const int latency = dut.latency(), configured = tatami::ArchConfig{}.core.matrix_latency_cycles;
  if (latency != configured) {
    std::printf("FAIL rtl.matrix_engine: the RTL was built with LATENCY %d, the architecture config says core.matrix_latency_cycles = %d\n",
                latency, configured);
    return 1;
  }
  std::mt19937_64 gen(7);
  const auto bf16 = [&]() -> std::uint16_t {
    const std::uint64_t r = gen();
    switch (r % 6) {
      case 0: return std::uint16_t(r >> 16);                                          // any bits
      case 1: return std::uint16_t((r >> 16) & 0x807F);                               // denormals and zeros
      default: return std::uint16_t(((r >> 16) & 0x807F) | (0x3C00 + ((r >> 32) % 0x600)));  // moderate
    }
  };
  std::uint64_t elements = 0, bad = 0, timingBad = 0;
  for (long t = 0; t < tiles; ++t) {
    const auto format = MatrixEngine::Format(gen() % 3);
    const bool cfp8 = format != MatrixEngine::Format::Bf16;
    const int bias = cfp8 ? int(gen() % 64) : 0;
    const tatami::FloatFormat fmt = format == MatrixEngine::Format::E5m2 ? tatami::cfp8e5m2(bias) : tatami::cfp8e4m3(bias);
    const int k = cfp8 ? 4 * int(1 + gen() % 6) : 2 * int(1 + gen() % 12);  // CFP8 rows fill whole lines: K a multiple of 4
    const bool accumulate = gen() % 2;
    const auto value = [&](std::uint16_t code) {
      return cfp8 ? tatami::decode(fmt, code & 0xFF) : tatami::bitsFloat(std::uint32_t(code) << 16);
    };
    MatrixEngine::Tile c{};
    for (auto& e : c) e = gen() % 4 ? tatami::floatBits(float(int(gen() % 2001) - 1000) / 64.0f) : std::uint32_t(gen());
    std::vector<MatrixEngine::Row> a(static_cast<std::size_t>(k)), b(static_cast<std::size_t>(k));
    for (int r = 0; r < k; ++r)
      for (int i = 0; i < 16; ++i) {
        a[std::size_t(r)][std::size_t(i)] = cfp8 ? std::uint16_t(gen() & 0xFF) : bf16();
        b[std::size_t(r)][std::size_t(i)] = cfp8 ? std::uint16_t(gen() & 0xFF) : bf16();
      }
    if (gen() % 4 == 0)  // an exact cancellation in row 1: A[0][1] B[1][j] = -A[0][0] B[0][j]
      for (int j = 0; j < 16; ++j) a[1][0] = a[0][0] ^ (cfp8 ? 0x80 : 0x8000), b[1][std::size_t(j)] = b[0][std::size_t(j)];
    // The reference, in the architecture's order.
    MatrixEngine::Tile want{};
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) {
        float acc = accumulate ? tatami::bitsFloat(c[std::size_t(i * 16 + j)]) : 0.0f;
        for (int r = 0; r < k; ++r) {
          const float p = tatami::canonical(value(a[std::size_t(r)][std::size_t(i)]) * value(b[std::size_t(r)][std::size_t(j)]));
          acc = tatami::canonical(acc + p);
        }
        want[std::size_t(i * 16 + j)] = tatami::floatBits(acc);
      }
    // Command, rows (with gaps), result (with back-pressure).
    MatrixEngine::Inputs in;
    in.cmdValid = true, in.accumulate = accumulate, in.format = format, in.bias = bias, in.k = k, in.c = &c;
    for (int guard = 0; !dut.cycle(in).cmdReady; ++guard)
      if (guard > 10000) { std::printf("FAIL rtl.matrix_engine: the command is never taken\n"); return 1; }
    in.cmdValid = false;
    const bool gaps = gen() % 3 == 0;
    int sent = 0, cycles = 0, firstRowCycle = -1;
    MatrixEngine::Outputs out;
    for (;;) {
      in.rowValid = sent < k && !(gaps && gen() % 3 == 0);
      if (in.rowValid) in.a = a[std::size_t(sent)], in.b = b[std::size_t(sent)];
      in.outReady = gen() % 4 != 0;
      out = dut.cycle(in);
      if (in.rowValid && out.rowReady) {
        if (firstRowCycle < 0) firstRowCycle = cycles;
        ++sent;
      }
      ++cycles;
      if (out.outValid && in.outReady) break;
      if (cycles > 100000) { std::printf("FAIL rtl.matrix_engine: no result\n"); return 1; }
    }
    if (!gaps) {
      // The result was first presented K + LATENCY cycles after the first row (it may have waited for out_ready).
      if (cycles - 1 - firstRowCycle < k + latency && timingBad++ < 4)
        std::printf("timing: K %d: result after %d cycles, expected at least %d\n", k, cycles - 1 - firstRowCycle, k + latency);
    }
    for (int e = 0; e < 256; ++e) {
      ++elements;
      if (out.c[std::size_t(e)] != want[std::size_t(e)] && bad++ < 8)
        std::printf("mismatch: tile %ld (K %d, %s, format %d bias %d) C[%d][%d]: rtl 0x%08x arch 0x%08x\n", t, k, accumulate ? "mma" : "mmaz",
                    int(format), bias, e / 16, e % 16, out.c[std::size_t(e)], want[std::size_t(e)]);
    }
  }
  // Exact timing with no stalls: one tile, rows back to back, result taken at once.
  {
    dut.reset();
    MatrixEngine::Inputs in;
    const int k = 16;
    in.cmdValid = true, in.k = k;
    dut.cycle(in);
    in.cmdValid = false, in.outReady = true;
    int cycles = 0;
    for (int sent = 0;; ++cycles) {
      in.rowValid = sent < k;
      const MatrixEngine::Outputs out = dut.cycle(in);
      if (in.rowValid && out.rowReady) ++sent;
      if (out.outValid) break;
    }
    if (cycles != k + latency && timingBad++ < 4) std::printf("timing: K 16 with no stalls: %d cycles, expected %d\n", cycles, k + latency);
  }
  const bool ok = bad == 0 && timingBad == 0;
  std::printf("%s rtl.matrix_engine: %ld tiles (mma and mmaz; BF16, CFP8 1-4-3 and 1-5-2 at random biases; K 2..24), %llu elements, %llu mismatches, %llu timing errors, latency %d\n",
              ok ? "PASS" : "FAIL", tiles, (unsigned long long)elements, (unsigned long long)bad, (unsigned long long)timingBad, latency);
  return ok ? 0 : 1;
}
