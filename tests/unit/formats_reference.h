// An independent, deliberately plain implementation of FP32 -> narrow format conversion with
// round-to-nearest-even: it enumerates every code of the format as a double and picks the
// nearest, rather than manipulating bits. Used as the oracle for arch/formats.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tatami/arch/formats.h"

namespace tatami::testref {

/// The value of a code computed from the format's definition with double arithmetic.
inline double codeValue(const FloatFormat& f, std::uint32_t code) {
  const int man = code & ((1u << f.mantBits) - 1);
  const int exp = (code >> f.mantBits) & ((1u << f.expBits) - 1);
  const bool neg = f.signBits && ((code >> (f.expBits + f.mantBits)) & 1);
  double v;
  if (f.ieeeSpecials && exp == (1 << f.expBits) - 1) v = man ? NAN : INFINITY;
  else if (exp == 0) v = std::pow(2.0, 1 - f.bias) * (man / std::pow(2.0, f.mantBits));
  else v = std::pow(2.0, exp - f.bias) * (1.0 + man / std::pow(2.0, f.mantBits));
  return neg ? -v : v;
}

class NearestEvenReference {
 public:
  explicit NearestEvenReference(const FloatFormat& f) : fmt_(f) {
    const std::uint32_t maxMag = f.maxFiniteCode();
    for (std::uint32_t c = 0; c <= maxMag; ++c) values_.push_back(codeValue(f, c));  // ascending
    maxValue_ = values_.back();
  }

  std::uint32_t convert(float x) const {
    const std::uint32_t sign = std::signbit(x) ? fmt_.signMask() : 0;
    if (std::isnan(x)) return fmt_.ieeeSpecials ? ((1u << fmt_.expBits) - 1) << fmt_.mantBits | 1u << (fmt_.mantBits - 1) : 0;
    if (std::signbit(x) && fmt_.signBits == 0) return 0;
    const double a = std::fabs(double(x));
    const std::uint32_t inf = ((1u << fmt_.expBits) - 1) << fmt_.mantBits;
    if (a > maxValue_) {
      if (!fmt_.ieeeSpecials) return sign | fmt_.maxFiniteCode();
      // IEEE: above max + half an ulp of max (ties go to the even "next" code, i.e. Inf).
      const double ulp = maxValue_ - values_[values_.size() - 2];
      return sign | (a >= maxValue_ + ulp / 2 ? inf : fmt_.maxFiniteCode());
    }
    const auto it = std::lower_bound(values_.begin(), values_.end(), a);
    const std::uint32_t hi = std::uint32_t(it - values_.begin());
    if (values_[hi] == a || hi == 0) return sign | hi;
    const std::uint32_t lo = hi - 1;
    const double dLo = a - values_[lo], dHi = values_[hi] - a;
    if (dLo < dHi) return sign | lo;
    if (dHi < dLo) return sign | hi;
    return sign | ((lo & 1) ? hi : lo);
  }

 private:
  FloatFormat fmt_;
  std::vector<double> values_;
  double maxValue_;
};

}  // namespace tatami::testref
