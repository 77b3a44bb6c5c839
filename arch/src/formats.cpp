// Generic conversions between FP32 and the narrow formats, in integer arithmetic so that the
// result never depends on the host's floating-point environment.
#include "tatami/arch/formats.h"

#include <cmath>
#include <stdexcept>

namespace tatami {

namespace {

FloatFormat checkedCfp(int signBits, int expBits, int mantBits, int bias) {
  if (bias < 0 || bias > kMaxCfpBias)
    throw std::invalid_argument("CFP exponent bias " + std::to_string(bias) + " is outside the 6-bit range [0, 63]");
  return FloatFormat{signBits, expBits, mantBits, bias, false};
}

int bitLength(std::uint32_t v) { return v ? 32 - __builtin_clz(v) : 0; }

}  // namespace

FloatFormat cfp8e4m3(int bias) { return checkedCfp(1, 4, 3, bias); }
FloatFormat cfp8e5m2(int bias) { return checkedCfp(1, 5, 2, bias); }
FloatFormat cfp16Signed(int bias) { return checkedCfp(1, 5, 10, bias); }
FloatFormat cfp16Unsigned(int bias) { return checkedCfp(0, 6, 10, bias); }

std::string FloatFormat::name() const {
  if (ieeeSpecials && expBits == 8 && mantBits == 7) return "bf16";
  const std::string base = totalBits() == 8 ? "cfp8" : totalBits() == 16 ? "cfp16" : "fmt";
  return base + "_" + std::to_string(signBits) + "-" + std::to_string(expBits) + "-" +
         std::to_string(mantBits) + "_bias" + std::to_string(bias);
}

std::uint32_t encode(const FloatFormat& fmt, float x, Rounding mode, std::uint32_t randomBits) {
  const std::uint32_t u = floatBits(x);
  const bool negative = (u >> 31) != 0;
  const std::uint32_t exp8 = (u >> 23) & 0xFFu;
  const std::uint32_t man23 = u & 0x7FFFFFu;
  const std::uint32_t maxFinite = fmt.maxFiniteCode();
  const std::uint32_t infCode = std::uint32_t((1 << fmt.expBits) - 1) << fmt.mantBits;

  // Unsigned formats hold no negative values: negative inputs (and -0) become +0.
  if (negative && fmt.signBits == 0) return 0;
  const std::uint32_t sign = negative ? fmt.signMask() : 0u;

  if (exp8 == 0xFF) {
    if (man23 != 0) {  // NaN
      if (fmt.ieeeSpecials) return infCode | (1u << (fmt.mantBits - 1));  // canonical quiet NaN, +
      return 0;                                                           // CFP: NaN -> +0
    }
    return sign | (fmt.ieeeSpecials ? infCode : maxFinite);  // Inf, or saturate
  }

  // |x| = sig * 2^lsbExp exactly.
  std::uint32_t sig = exp8 ? (man23 | 0x800000u) : man23;
  const int lsbExp = exp8 ? int(exp8) - 150 : -149;
  if (sig == 0) return sign;

  const int topExp = bitLength(sig) - 1 + lsbExp;  // floor(log2|x|)
  const int minNormalExp = 1 - fmt.bias;
  const int targetLsbExp = (topExp > minNormalExp ? topExp : minNormalExp) - fmt.mantBits;
  const int shift = targetLsbExp - lsbExp;

  std::uint64_t q;
  if (shift <= 0) {
    q = std::uint64_t(sig) << -shift;  // exact: the target has at least as fine a grid here
  } else {
    const std::uint64_t wide = sig;
    q = shift >= 64 ? 0 : wide >> shift;
    const std::uint64_t rest = shift >= 64 ? wide : wide & ((std::uint64_t(1) << shift) - 1);
    bool up;
    if (mode == Rounding::NearestEven) {
      if (shift > 32) {
        up = false;  // rest < 2^24 <= half
      } else {
        const std::uint64_t half = std::uint64_t(1) << (shift - 1);
        up = rest > half || (rest == half && (q & 1));
      }
    } else {
      // The discarded fraction as a 32-bit fixed-point number.
      std::uint64_t frac32;
      if (shift <= 32) frac32 = rest << (32 - shift);
      else frac32 = (shift - 32 >= 64) ? 0 : rest >> (shift - 32);
      up = std::uint64_t(randomBits) < frac32;
    }
    q += up ? 1 : 0;
  }

  int unbiased = targetLsbExp + fmt.mantBits;  // exponent of the leading bit if q is normal
  if (q >> (fmt.mantBits + 1)) {              // rounding carried into the next binade
    q >>= 1;
    unbiased += 1;
  }
  std::uint32_t code;
  if (q >> fmt.mantBits) {
    const long biased = long(unbiased) + fmt.bias;
    if (biased > fmt.maxFiniteExpField()) return sign | (fmt.ieeeSpecials ? infCode : maxFinite);
    code = (std::uint32_t(biased) << fmt.mantBits) | (std::uint32_t(q) & ((1u << fmt.mantBits) - 1));
  } else {
    code = std::uint32_t(q);  // subnormal (or zero)
  }
  return sign | code;
}

float decode(const FloatFormat& fmt, std::uint32_t code) {
  const bool negative = (code & fmt.signMask()) != 0;
  const std::uint32_t expField = (code >> fmt.mantBits) & ((1u << fmt.expBits) - 1);
  const std::uint32_t mant = code & ((1u << fmt.mantBits) - 1);
  float mag;
  if (fmt.ieeeSpecials && expField == std::uint32_t((1 << fmt.expBits) - 1)) {
    mag = mant ? bitsFloat(0x7FC00000u) : bitsFloat(0x7F800000u);
  } else if (expField == 0) {
    mag = std::ldexp(float(mant), 1 - fmt.bias - fmt.mantBits);
  } else {
    mag = std::ldexp(float(mant | (1u << fmt.mantBits)), int(expField) - fmt.bias - fmt.mantBits);
  }
  return negative ? -mag : mag;
}

}  // namespace tatami
