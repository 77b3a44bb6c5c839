// Self-checking test of the verilated FP32 -> BF16 / CFP8 1-4-3 / CFP8 1-5-2 encoders against
// tatami::encode: special values, then a stride through all 2^32 inputs, each with round to
// nearest even and with stochastic rounding (a random draw, and the draws at the rounding
// boundary), CFP8 at a random bias 0..63 per input (saturation, denormals and NaN -> +0 included).
//
//   rtl_fp32_to_narrow_test [STRIDE]   (default 4099; the `long` test runs 251)
// Ends with one PASS or FAIL line.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "tatami/arch/formats.h"
#include "tatami/rtl/converters.h"

using tatami::rtl::NarrowEncoder;

int main(int argc, char** argv) {
  const std::uint64_t stride = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 4099;
  std::mt19937_64 gen(7);
  std::uint64_t checked = 0, bad = 0;
  const char* names[] = {"bf16", "e4m3", "e5m2"};
  for (int f = 0; f < 3; ++f) {
    const auto format = NarrowEncoder::Format(f);
    NarrowEncoder dut(format);
    const auto check = [&](std::uint32_t in, int bias, bool stochastic, std::uint32_t rnd) {
      const tatami::FloatFormat fmt = f == 0 ? tatami::kBf16 : f == 1 ? tatami::cfp8e4m3(bias) : tatami::cfp8e5m2(bias);
      const std::uint32_t want = tatami::encode(fmt, tatami::bitsFloat(in),
                                                stochastic ? tatami::Rounding::Stochastic : tatami::Rounding::NearestEven, rnd);
      const std::uint32_t got = dut.encode(in, bias, stochastic, rnd);
      ++checked;
      if (got != want && bad++ < 8)
        std::printf("mismatch: %s bias %d %s rnd 0x%08x input 0x%08x: rtl 0x%x arch 0x%x\n", names[f], bias, stochastic ? "stochastic" : "nearest",
                    rnd, in, got, want);
    };
    const auto all = [&](std::uint32_t in) {
      const int bias = f == 0 ? 127 : int(gen() % 64);
      check(in, bias, false, 0);
      const std::uint32_t rnd = std::uint32_t(gen());
      check(in, bias, true, rnd);
      check(in, bias, true, rnd & 0xFFFF);  // small draws: rounds up whenever anything is discarded
      check(in, bias, true, 0xFFFFFFFFu);   // never rounds up
    };
    for (std::uint32_t s : {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFF800001u, 0x7F7FFFFFu, 0xFF7FFFFFu,
                            0x00008000u, 0x00018000u, 0x3F808000u, 0x3F818000u, 0x00000001u, 0x3F880000u, 0x3F900000u, 0x43E00000u,
                            0x43F00000u, 0x47700000u, 0x47800000u, 0x3B000000u, 0x3A800000u, 0x37800000u})
      for (int bias = 0; bias < (f == 0 ? 1 : 64); ++bias) check(s, f == 0 ? 127 : bias, false, 0), check(s, f == 0 ? 127 : bias, true, std::uint32_t(gen()));
    for (std::uint64_t i = 0; i < (std::uint64_t(1) << 32); i += stride) all(std::uint32_t(i));
  }
  std::printf("%s rtl.fp32_to_narrow: %llu conversions (BF16, CFP8 1-4-3 and 1-5-2; nearest even and stochastic), %llu mismatches\n",
              bad ? "FAIL" : "PASS", (unsigned long long)checked, (unsigned long long)bad);
  return bad ? 1 : 0;
}
