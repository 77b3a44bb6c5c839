// Number formats against hand-worked values and the independent reference (a sample of all
// 2^32 inputs here; every input in formats_exhaustive).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "formats_reference.h"
#include "tatami/arch/formats.h"
#include "tatami/arch/philox.h"

using namespace tatami;

namespace {

std::vector<FloatFormat> allFormats() {
  return {kBf16,          cfp8e4m3(0),     cfp8e4m3(7),       cfp8e4m3(63),      cfp8e5m2(0),
          cfp8e5m2(15),   cfp8e5m2(63),    cfp16Signed(15),   cfp16Signed(0),    cfp16Unsigned(31),
          cfp16Unsigned(63)};
}

}  // namespace

TEST_CASE("every BF16 and CFP8 code decodes to its defined value") {
  std::vector<FloatFormat> formats = {kBf16};
  for (int bias = 0; bias <= kMaxCfpBias; ++bias) {
    formats.push_back(cfp8e4m3(bias));
    formats.push_back(cfp8e5m2(bias));
  }
  for (const auto& f : formats) {
    for (std::uint32_t code = 0; code < (1u << f.totalBits()); ++code) {
      const double want = testref::codeValue(f, code);
      const float got = decode(f, code);
      if (std::isnan(want)) {
        CHECK(std::isnan(got));
      } else {
        INFO(f.name(), " code ", code);
        CHECK(double(got) == want);
        CHECK(std::signbit(got) == std::signbit(want));
      }
    }
  }
}

TEST_CASE("every code round-trips through FP32 (CFP16 included)") {
  for (const auto& f : allFormats()) {
    for (std::uint32_t code = 0; code < (1u << f.totalBits()); ++code) {
      const float x = decode(f, code);
      if (std::isnan(x)) continue;
      INFO(f.name(), " code ", code);
      CHECK(encode(f, x) == code);
      CHECK(encode(f, x, Rounding::Stochastic, 0) == code);  // exact values never round
    }
  }
}

TEST_CASE("round to nearest even: hand-worked ties and near-ties") {
  // BF16 has 7 mantissa bits: an ulp at 1.0 is 2^-7, half an ulp 2^-8.
  CHECK(encode(kBf16, 1.0f + 0x1p-8f) == 0x3F80);            // tie, 1.0 is even
  CHECK(encode(kBf16, 1.0f + 3 * 0x1p-8f) == 0x3F82);        // tie, rounds up to even 1+2^-6
  CHECK(encode(kBf16, 1.0f + 0x1p-8f + 0x1p-20f) == 0x3F81); // just above the tie
  CHECK(fp32ToBf16(1.0f + 0x1p-8f) == 0x3F80);
  CHECK(fp32ToBf16(1.0f + 3 * 0x1p-8f) == 0x3F82);
  // CFP8 1-4-3, bias 7: an ulp at 1.0 is 1/8.
  const FloatFormat e4 = cfp8e4m3(7);
  CHECK(encode(e4, 1.0625f) == 0x38);  // 1 + 1/16: tie -> 1.0 (mantissa 000)
  CHECK(encode(e4, 1.1875f) == 0x3A);  // 1 + 3/16: tie -> 1.25 (mantissa 010)
  CHECK(encode(e4, -1.1875f) == 0xBA);
  // CFP8 1-5-2, bias 15: ulp at 1.0 is 1/4; 1.375 is a tie between 1.25 (01) and 1.5 (10).
  CHECK(encode(cfp8e5m2(15), 1.375f) == 0x3E);
}

TEST_CASE("CFP saturates, has no Inf or NaN, and keeps denormals") {
  const FloatFormat e4 = cfp8e4m3(7);
  CHECK(decode(e4, 0x7F) == 480.0f);  // 1.875 * 2^(15-7)
  CHECK(encode(e4, 1e6f) == 0x7F);
  CHECK(encode(e4, -1e6f) == 0xFF);
  CHECK(encode(e4, std::numeric_limits<float>::infinity()) == 0x7F);
  CHECK(encode(e4, -std::numeric_limits<float>::infinity()) == 0xFF);
  CHECK(encode(e4, std::numeric_limits<float>::quiet_NaN()) == 0x00);
  CHECK(encode(e4, 500.0f) == 0x7F);  // would round to 512 without saturation
  // Smallest denormal of 1-4-3 bias 7: 2^(1-7-3) = 2^-9.
  CHECK(decode(e4, 0x01) == 0x1p-9f);
  CHECK(encode(e4, 0x1p-9f) == 0x01);
  CHECK(encode(e4, 0x1p-10f) == 0x00);         // tie between 0 and 2^-9 -> even (0)
  CHECK(encode(e4, 1.5f * 0x1p-10f) == 0x01);  // above the tie
  CHECK(encode(e4, -0x1p-11f) == 0x80);        // rounds to -0
  // The bias moves the range: bias 0 makes the largest 1.875 * 2^15.
  CHECK(decode(cfp8e4m3(0), 0x7F) == 61440.0f);
  CHECK(decode(cfp8e5m2(63), 0x01) == 0x1p-64f);
  // Unsigned CFP16: negatives clamp to 0.
  CHECK(encode(cfp16Unsigned(31), -3.0f) == 0);
  CHECK(decode(cfp16Unsigned(31), encode(cfp16Unsigned(31), 3.0f)) == 3.0f);
  CHECK_THROWS_WITH(cfp8e4m3(64), "CFP exponent bias 64 is outside the 6-bit range [0, 63]");
}

TEST_CASE("BF16 keeps IEEE specials and FP32 denormals") {
  CHECK(encode(kBf16, std::numeric_limits<float>::infinity()) == 0x7F80);
  CHECK(encode(kBf16, -std::numeric_limits<float>::infinity()) == 0xFF80);
  CHECK(encode(kBf16, std::numeric_limits<float>::quiet_NaN()) == kBf16CanonicalNaN);
  CHECK(encode(kBf16, -std::numeric_limits<float>::quiet_NaN()) == kBf16CanonicalNaN);
  CHECK(fp32ToBf16(bitsFloat(0xFF812345u)) == kBf16CanonicalNaN);
  CHECK(encode(kBf16, std::numeric_limits<float>::max()) == 0x7F80);  // rounds past max -> Inf
  CHECK(encode(kBf16, bitsFloat(0x00010000u)) == 0x0001);           // smallest BF16 denormal
  CHECK(encode(kBf16, bitsFloat(0x00008000u)) == 0x0000);           // tie -> even 0
  CHECK(encode(kBf16, bitsFloat(0x00018000u)) == 0x0002);           // tie -> even 2
  CHECK(encode(kBf16, -0.0f) == 0x8000);
}

TEST_CASE("round to nearest even equals the independent reference on a sample of all FP32 inputs") {
  // A stride coprime to 2^32 visits every binade, denormals and NaNs included.
  constexpr std::uint64_t kStride = 4093;  // prime
  for (const auto& f : allFormats()) {
    const testref::NearestEvenReference ref(f);
    std::uint64_t mismatches = 0;
    for (std::uint64_t i = 0; i < (std::uint64_t(1) << 32); i += kStride) {
      const float x = bitsFloat(std::uint32_t(i));
      if (encode(f, x) != ref.convert(x)) ++mismatches;
    }
    INFO(f.name());
    CHECK(mismatches == 0);
  }
  for (std::uint64_t i = 0; i < (std::uint64_t(1) << 32); i += 65537) {
    const float x = bitsFloat(std::uint32_t(i));
    CHECK(fp32ToBf16(x) == encode(kBf16, x));
  }
}

TEST_CASE("stochastic rounding picks one of the two neighbours") {
  const FloatFormat e4 = cfp8e4m3(7);
  const float x = 1.0f + 0.3f / 8;  // 30% of the way from 1.0 to 1.125
  CHECK(encode(e4, x, Rounding::Stochastic, 0) == 0x39);            // smallest draw: always up
  CHECK(encode(e4, x, Rounding::Stochastic, 0xFFFFFFFFu) == 0x38);  // largest draw: down
  // Up iff draw < floor(0.3 * 2^32) (approximately: x itself is rounded to FP32).
  const std::uint32_t threshold = std::uint32_t((double(x) - 1.0) * 8 * 4294967296.0);
  CHECK(encode(e4, x, Rounding::Stochastic, threshold - 1) == 0x39);
  CHECK(encode(e4, x, Rounding::Stochastic, threshold) == 0x38);
}

TEST_CASE("stochastic rounding is unbiased and reproducible") {
  // Mean of N draws of a value f of an ulp above a grid point: the standard error of the mean is
  // ulp * sqrt(f(1-f)/N) <= ulp * 0.5/sqrt(N) = 0.0011 ulp for N = 200000; we allow 5 sigma,
  // i.e. 0.006 ulp.
  constexpr int kN = 200000;
  const std::vector<std::pair<FloatFormat, float>> cases = {
      {kBf16, 1.0f + 0.37f * 0x1p-7f},
      {kBf16, -3.0f - 0.81f * 0x1p-6f},
      {cfp8e4m3(7), 1.0f + 0.3f / 8},
      {cfp8e5m2(15), 2.0f + 0.55f * 0.5f},
      {cfp8e4m3(7), 0.2f * 0x1p-9f},  // inside the denormal range
  };
  for (std::size_t t = 0; t < cases.size(); ++t) {
    const auto& f = cases[t].first;  // not a structured binding: INFO captures them, which C++17 clang refuses
    const float x = cases[t].second;
    const float down = decode(f, encode(f, x, Rounding::Stochastic, 0xFFFFFFFFu));
    const float up = decode(f, encode(f, x, Rounding::Stochastic, 0));
    const double ulp = double(up) - double(down);
    double sum = 0;
    for (int e = 0; e < kN; ++e) sum += decode(f, encode(f, x, Rounding::Stochastic, roundingBits(42, t, e)));
    const double meanError = (sum / kN - double(x)) / std::fabs(ulp);
    INFO(f.name(), " x=", x, " mean error in ulps ", meanError);
    CHECK(std::fabs(meanError) < 0.006);
  }
  // Same seed, same bits; another seed gives another draw sequence.
  int differ = 0;
  for (int e = 0; e < 1000; ++e) {
    const float x = 1.0f + 0.5f * 0x1p-7f;
    CHECK(encode(kBf16, x, Rounding::Stochastic, roundingBits(7, 3, e)) ==
          encode(kBf16, x, Rounding::Stochastic, roundingBits(7, 3, e)));
    differ += encode(kBf16, x, Rounding::Stochastic, roundingBits(7, 3, e)) !=
              encode(kBf16, x, Rounding::Stochastic, roundingBits(8, 3, e));
  }
  CHECK(differ > 400);
  CHECK(differ < 600);
}
