// Exact algorithms for the FP32 special functions. Every step is a correctly rounded IEEE double
// operation, so the result is the same on every host.
#include "tatami/arch/numerics.h"

#include <cmath>
#include <cstring>

#include "tatami/arch/formats.h"

namespace tatami {

float canonical(float x) { return x != x ? bitsFloat(kFp32CanonicalNaN) : x; }

float fmax32(float a, float b) {
  if (a != a || b != b) return bitsFloat(kFp32CanonicalNaN);
  if (a > b) return a;
  if (b > a) return b;
  return std::signbit(a) ? b : a;
}

float fmin32(float a, float b) {
  if (a != a || b != b) return bitsFloat(kFp32CanonicalNaN);
  if (a < b) return a;
  if (b < a) return b;
  return std::signbit(a) ? a : b;
}

float exp32(float xf) {
  if (xf != xf) return bitsFloat(kFp32CanonicalNaN);
  if (xf > 100.0f) return INFINITY;
  if (xf < -110.0f) return 0.0f;
  const double x = xf;
  constexpr double kInvLn2 = 0x1.71547652b82fep0;
  constexpr double kLn2Hi = 0x1.62e42fefa3800p-1;
  constexpr double kLn2Lo = 0x1.ef35793c76730p-45;
  const double n = std::nearbyint(x * kInvLn2);
  const double r = (x - n * kLn2Hi) - n * kLn2Lo;
  // sum_{k=0}^{13} r^k / k!, Horner form.
  static const double kInvFact[14] = {1.0,
                                      1.0,
                                      1.0 / 2,
                                      1.0 / 6,
                                      1.0 / 24,
                                      1.0 / 120,
                                      1.0 / 720,
                                      1.0 / 5040,
                                      1.0 / 40320,
                                      1.0 / 362880,
                                      1.0 / 3628800,
                                      1.0 / 39916800,
                                      1.0 / 479001600,
                                      1.0 / 6227020800.0};
  double p = kInvFact[13];
  for (int k = 12; k >= 0; --k) p = p * r + kInvFact[k];
  return static_cast<float>(std::ldexp(p, static_cast<int>(n)));
}

float log32(float xf) {
  if (xf != xf || xf < 0.0f) return bitsFloat(kFp32CanonicalNaN);
  if (xf == 0.0f) return -INFINITY;
  if (std::isinf(xf)) return INFINITY;
  int e;
  double m = std::frexp(static_cast<double>(xf), &e);  // m in [0.5, 1)
  if (m < 0x1.6a09e667f3bcdp-1) {                      // sqrt(1/2)
    m *= 2.0;
    e -= 1;
  }
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double series = 1.0 / 21.0;
  for (int k = 19; k >= 1; k -= 2) series = series * s2 + 1.0 / k;
  constexpr double kLn2 = 0x1.62e42fefa39efp-1;
  return static_cast<float>(e * kLn2 + 2.0 * s * series);
}

float rcp32(float x) {
  if (x != x) return bitsFloat(kFp32CanonicalNaN);
  return static_cast<float>(1.0 / static_cast<double>(x));
}

float rsqrt32(float x) {
  if (x != x || x < 0.0f) return bitsFloat(kFp32CanonicalNaN);
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(x)));
}

}  // namespace tatami
