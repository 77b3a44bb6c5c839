// The arithmetic that decides bits, defined here rather than left to the host's libm: FP32 NaN
// canonicalization, max/min, exp, log, reciprocal and reciprocal square root (docs/isa.md).
// Built with -ffp-contract=off: every operation rounds exactly as written.
#pragma once

#include <cstdint>

namespace tatami {

constexpr std::uint32_t kFp32CanonicalNaN = 0x7FC00000u;

/// Any NaN becomes the canonical NaN; other values pass unchanged.
float canonical(float x);
/// max/min: NaN if either is NaN; +0 is larger than -0.
float fmax32(float a, float b);
float fmin32(float a, float b);
/// e^x: Cody-Waite reduction by ln 2 and a degree-13 Taylor polynomial in double, rounded once to FP32.
float exp32(float x);
/// ln x: reduction to [sqrt(1/2), sqrt(2)) and the atanh series to s^21 in double, rounded to FP32.
float log32(float x);
/// 1/x, correctly rounded (double division rounded to FP32).
float rcp32(float x);
/// 1/sqrt(x): double sqrt, double division, rounded to FP32.
float rsqrt32(float x);

}  // namespace tatami
