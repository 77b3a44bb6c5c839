// Self-checking test of the verilated vector unit against the arch reference semantics
// (tatami::canonical(x op y), fma, fmax32, fmin32, fp32ToBf16 and its inverse): per operation, random vectors (random bits, which
// include NaN, Inf and denormals; operands of near exponents, which cancel; special values), fed
// with random gaps and back-pressure. Checks every lane's bits, that each result comes out
// exactly `latency` cycles after its vector went in when nothing stalls, and that the RTL's
// pipeline depth equals the architecture config's vector latency.
//
//   rtl_vector_unit_test [VECTORS_PER_OP]   (default 10000; the `long` test runs 100000)
// Ends with one PASS or FAIL line.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <random>

#include "tatami/arch/config.h"
#include "tatami/arch/formats.h"
#include "tatami/arch/numerics.h"
#include "tatami/rtl/vector_unit.h"

using tatami::rtl::VectorUnit;

namespace {

std::uint32_t reference(VectorUnit::Op op, std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  const float x = tatami::bitsFloat(a), y = tatami::bitsFloat(b), z = tatami::bitsFloat(c);
  switch (op) {
    case VectorUnit::Op::Add: return tatami::floatBits(tatami::canonical(x + y));
    case VectorUnit::Op::Sub: return tatami::floatBits(tatami::canonical(x - y));
    case VectorUnit::Op::Mul: return tatami::floatBits(tatami::canonical(x * y));
    case VectorUnit::Op::Max: return tatami::floatBits(tatami::fmax32(x, y));
    case VectorUnit::Op::Min: return tatami::floatBits(tatami::fmin32(x, y));
    case VectorUnit::Op::Fma: return tatami::floatBits(tatami::canonical(std::fma(x, y, z)));
    case VectorUnit::Op::ToBf16: return tatami::fp32ToBf16(x);
    case VectorUnit::Op::FromBf16: return tatami::floatBits(tatami::bitsFloat(std::uint32_t(a & 0xFFFF) << 16));
  }
  return 0;
}

const char* name(VectorUnit::Op op) {
  static const char* names[] = {"add", "sub", "mul", "max", "min", "fma", "to_bf16", "from_bf16"};
  return names[int(op)];
}

}  // namespace

int main(int argc, char** argv) {
  const long perOp = argc > 1 ? std::atol(argv[1]) : 10000;
  VectorUnit dut;
  std::uint64_t lanes = 0, bad = 0, timingBad = 0;
  const int latency = dut.latency(), configured = tatami::ArchConfig{}.core.vector_latency_cycles;
  if (latency != configured) {
    std::printf("FAIL rtl.vector_unit: the RTL was built with LATENCY %d, the architecture config says core.vector_latency_cycles = %d\n",
                latency, configured);
    return 1;
  }
  std::mt19937_64 gen(2026);
  const std::uint32_t specials[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00001u, 0x7F7FFFFFu,
                                    0xFF7FFFFFu, 0x00800000u, 0x80800000u, 0x007FFFFFu, 0x807FFFFFu, 0x00000001u, 0x80000001u,
                                    0x3F800000u, 0xBF800000u, 0x3F800001u, 0x4B000000u, 0x33800000u, 0x34000000u};
  const auto operand = [&](std::uint32_t other) -> std::uint32_t {
    const std::uint64_t r = gen();
    switch (r % 8) {
      case 0: return specials[(r >> 8) % (sizeof specials / sizeof specials[0])];
      case 1: return std::uint32_t(r >> 16) & 0x807FFFFFu;                                            // denormals
      case 2: return (other & 0xFF800000u) ^ (std::uint32_t(r >> 20) & 0x807FFFFFu);                  // same exponent: cancellation
      case 3: return (other + std::uint32_t((r >> 24) % 64) - 32) ^ (std::uint32_t(r >> 40) & 0x80000000u);  // neighbours
      case 4: return std::uint32_t(r >> 16) & 0x7FFFFFFFu ? (std::uint32_t(r >> 16) & 0x0FFFFFFFu) | 0x30000000u : 0;  // moderate
      default: return std::uint32_t(r >> 12);                                                          // any bits
    }
  };
  for (int o = 0; o < 8; ++o) {
    const auto op = VectorUnit::Op(o);
    dut.reset();
    struct Expected {
      VectorUnit::Lanes want, a, b, c;
      long inCycle;
    };
    std::deque<Expected> expected;
    VectorUnit::Lanes c{};  // results in order, and the cycle their vector went in
    long sent = 0, received = 0, cycle = 0;
    bool stalled = false;
    VectorUnit::Lanes a{}, b{};
    bool offering = false;
    while (received < perOp) {
      if (!offering && sent < perOp && gen() % 8 != 0) {  // a gap one cycle in eight
        for (int i = 0; i < 16; ++i) {
          a[std::size_t(i)] = operand(0);
          b[std::size_t(i)] = operand(a[std::size_t(i)]);
          // fma's addend: anything, or (about) minus the product, so that most of it cancels
          const float p = tatami::bitsFloat(a[std::size_t(i)]) * tatami::bitsFloat(b[std::size_t(i)]);
          c[std::size_t(i)] = gen() % 3 ? operand(a[std::size_t(i)]) : (tatami::floatBits(-p) + std::uint32_t(gen() % 5) - 2u);
        }
        offering = true;
      }
      const bool outReady = gen() % 6 != 0;  // back-pressure one cycle in six
      const VectorUnit::Outputs out = dut.cycle(offering, op, a, b, outReady, &c);
      if (out.outValid && outReady) {
        if (expected.empty()) {
          std::printf("FAIL rtl.vector_unit: %s: a result with no vector in flight\n", name(op));
          return 1;
        }
        const Expected& e = expected.front();
        const auto& want = e.want;
        const long inCycle = e.inCycle;
        for (int i = 0; i < 16; ++i) {
          ++lanes;
          if (out.y[std::size_t(i)] != want[std::size_t(i)] && bad++ < 8)
            std::printf("mismatch: %s lane %d (a 0x%08x b 0x%08x c 0x%08x): rtl 0x%08x arch 0x%08x\n", name(op), i, e.a[std::size_t(i)],
                        e.b[std::size_t(i)], e.c[std::size_t(i)], out.y[std::size_t(i)], want[std::size_t(i)]);
        }
        if (!stalled && cycle - inCycle != latency && timingBad++ < 4)
          std::printf("timing: %s: a result %ld cycles after its vector, expected %d\n", name(op), cycle - inCycle, latency);
        expected.pop_front();
        ++received;
      }
      if (out.outValid && !outReady) stalled = true;
      if (expected.empty()) stalled = false;
      if (offering && out.inReady) {
        VectorUnit::Lanes want{};
        for (int i = 0; i < 16; ++i) want[std::size_t(i)] = reference(op, a[std::size_t(i)], b[std::size_t(i)], c[std::size_t(i)]);
        expected.push_back({want, a, b, c, cycle});
        offering = false;
        ++sent;
      }
      ++cycle;
    }
  }
  const bool ok = bad == 0 && timingBad == 0;
  std::printf("%s rtl.vector_unit: %ld vectors per operation (add, sub, mul, max, min, fma, FP32 to BF16, BF16 to FP32), %llu lanes, %llu mismatches, %llu timing errors, latency %d\n",
              ok ? "PASS" : "FAIL", perOp, (unsigned long long)lanes, (unsigned long long)bad, (unsigned long long)timingBad, latency);
  return ok ? 0 : 1;
}
