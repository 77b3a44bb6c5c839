// Number formats: FP32, BF16, CFP8 (1-4-3 and 1-5-2) and CFP16 (signed 1-5-10, unsigned 0-6-10)
// with a configurable 6-bit exponent bias, and conversions with round-to-nearest-even or
// stochastic rounding. The rules for NaN, Inf, denormals and saturation are in docs/formats.md.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace tatami {

/// A binary floating-point format narrower than FP32. Codes are right-aligned in a uint32_t:
/// [sign][exponent][mantissa].
struct FloatFormat {
  int signBits;       ///< 1 (signed) or 0 (unsigned)
  int expBits;
  int mantBits;
  int bias;           ///< value = 1.mant x 2^(exp - bias); subnormals at exp = 0
  bool ieeeSpecials;  ///< true: all-ones exponent is Inf/NaN (BF16). false: saturating, no Inf/NaN (CFP)

  int totalBits() const { return signBits + expBits + mantBits; }
  std::uint32_t signMask() const { return signBits ? 1u << (expBits + mantBits) : 0u; }
  /// Largest exponent field that encodes a finite value.
  int maxFiniteExpField() const { return (1 << expBits) - (ieeeSpecials ? 2 : 1); }
  /// Largest finite magnitude code (no sign bit).
  std::uint32_t maxFiniteCode() const {
    return (std::uint32_t(maxFiniteExpField()) << mantBits) | ((1u << mantBits) - 1);
  }
  std::string name() const;
};

/// Largest CFP exponent bias: the bias is a 6-bit field.
constexpr int kMaxCfpBias = 63;

constexpr FloatFormat kBf16{1, 8, 7, 127, true};
/// CFP8 with 4 exponent and 3 mantissa bits; bias in [0, 63] (default 7 is IEEE-like).
FloatFormat cfp8e4m3(int bias = 7);
/// CFP8 with 5 exponent and 2 mantissa bits; bias in [0, 63] (default 15).
FloatFormat cfp8e5m2(int bias = 15);
/// Signed CFP16, 1-5-10; bias in [0, 63] (default 15).
FloatFormat cfp16Signed(int bias = 15);
/// Unsigned CFP16, 0-6-10; bias in [0, 63] (default 31).
FloatFormat cfp16Unsigned(int bias = 31);

enum class Rounding { NearestEven, Stochastic };

/// Converts an FP32 value to `fmt`. For Rounding::Stochastic, `randomBits` is the 32-bit draw
/// (see roundingBits in philox.h): the magnitude rounds up iff randomBits < floor(f * 2^32), where
/// f in [0, 1) is the discarded fraction of a unit in the last place.
std::uint32_t encode(const FloatFormat& fmt, float x, Rounding mode = Rounding::NearestEven,
                     std::uint32_t randomBits = 0);
/// Converts a code of `fmt` to FP32 exactly (every format here is a subset of FP32).
float decode(const FloatFormat& fmt, std::uint32_t code);

inline std::uint32_t floatBits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
inline float bitsFloat(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

constexpr std::uint16_t kBf16CanonicalNaN = 0x7FC0;

/// FP32 -> BF16, round to nearest even; the hot path, equal to encode(kBf16, x).
inline std::uint16_t fp32ToBf16(float x) {
  const std::uint32_t u = floatBits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return kBf16CanonicalNaN;
  const std::uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  return std::uint16_t(rounded >> 16);
}
/// BF16 -> FP32, exact.
inline float bf16ToFp32(std::uint16_t b) { return bitsFloat(std::uint32_t(b) << 16); }

}  // namespace tatami
