// Reference semantics of the matrix instruction, and its fast host kernel.
//   C (16 x 16 FP32, row-major, 64 B rows) += A^T B, where the A panel holds K rows of 16
//   elements (row k = A[0..15][k]) and the B panel K rows of 16 elements (row k = B[k][0..15]).
// Each C element accumulates its K products in order k = 0, 1, ..., K-1: acc = fl(acc + fl(a*b)),
// starting from C (mma) or +0 (mmaz). A BF16 or CFP8 product is exact in FP32 except on overflow
// or underflow, where it is rounded to nearest even before the addition.
#include <cstring>
#include <immintrin.h>

#include "semantics_internal.h"
#include "tatami/arch/formats.h"
#include "tatami/arch/numerics.h"

#include <algorithm>

namespace tatami::detail {

namespace {

constexpr int T = kMmaTile;

/// The plain loop: the definition.
void mmaReference(const float* a, const float* b, float* c, std::uint64_t k, bool zero) {
  for (int i = 0; i < T; ++i)
    for (int j = 0; j < T; ++j) {
      float acc = zero ? 0.0f : c[i * T + j];
      for (std::uint64_t kk = 0; kk < k; ++kk) {
        const float p = a[kk * T + i] * b[kk * T + j];
        acc = acc + p;
      }
      c[i * T + j] = canonical(acc);
    }
}

/// The same order per element, with k outermost so that the j loop vectorizes.
void mmaFast(const float* a, const float* b, float* c, std::uint64_t k, bool zero) {
  alignas(64) float acc[T][T];
  for (int i = 0; i < T; ++i)
    for (int j = 0; j < T; ++j) acc[i][j] = zero ? 0.0f : c[i * T + j];
  for (std::uint64_t kk = 0; kk < k; ++kk) {
    const float* ak = a + kk * T;
    const float* bk = b + kk * T;
    for (int i = 0; i < T; ++i) {
      const float ai = ak[i];
      for (int j = 0; j < T; ++j) {
        const float p = ai * bk[j];
        acc[i][j] = acc[i][j] + p;
      }
    }
  }
  for (int i = 0; i < T; ++i)
    for (int j = 0; j < T; ++j) c[i * T + j] = canonical(acc[i][j]);
}

/// What decides whether a panel's products can be inexact: the largest and smallest exponent
/// field among its finite non-zero values, and whether any has bits below the top 8 of its
/// significand (BF16 and CFP8 values never do).
struct PanelRange {
  std::uint32_t maxExp = 0, minExp = 255, lowBits = 0;
  bool any = false;
};

PanelRange panelRange(const float* v, std::uint64_t n) {
  std::uint32_t maxExp = 0, minExp = 255, lowBits = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, &v[i], 4);
    const std::uint32_t e = (u >> 23) & 0xFF;
    const bool counted = e != 0xFF && (u & 0x7FFFFFFF) != 0;
    maxExp = std::max(maxExp, counted ? e : 0u);
    minExp = std::min(minExp, counted ? e : 255u);
    lowBits |= counted ? (u & 0xFFFF) : 0u;
  }
  PanelRange r;
  r.maxExp = maxExp, r.minExp = minExp, r.lowBits = lowBits, r.any = minExp != 255;
  return r;
}

/// True when every product a*b is exact in FP32: at most 8 significant bits per operand, no
/// overflow, no bits below 2^-149. Then fma(a, b, acc) rounds exactly like acc + fl(a*b).
bool productsExact(const float* a, const float* b, std::uint64_t n) {
  const PanelRange ra = panelRange(a, n), rb = panelRange(b, n);
  if (!ra.any || !rb.any) return true;  // all zeros and specials: every product is exact
  if (ra.lowBits || rb.lowBits) return false;
  const auto top = [](std::uint32_t e) { return int(e) - 127; };                 // leading bit exponent bound
  const auto low = [](std::uint32_t e) { return e == 0 ? -133 : int(e) - 134; };  // lowest bit exponent bound
  return top(ra.maxExp) + top(rb.maxExp) <= 126 && low(ra.minExp) + low(rb.minExp) >= -149;
}

__attribute__((target("avx2,fma"))) void mmaFmaAvx2(const float* a, const float* b, float* c, std::uint64_t k) {
  for (int i0 = 0; i0 < T; i0 += 4) {
    __m256 acc[4][2];
    for (int r = 0; r < 4; ++r) {
      acc[r][0] = _mm256_loadu_ps(c + (i0 + r) * T);
      acc[r][1] = _mm256_loadu_ps(c + (i0 + r) * T + 8);
    }
    for (std::uint64_t kk = 0; kk < k; ++kk) {
      const __m256 b0 = _mm256_loadu_ps(b + kk * T), b1 = _mm256_loadu_ps(b + kk * T + 8);
      for (int r = 0; r < 4; ++r) {
        const __m256 av = _mm256_broadcast_ss(a + kk * T + i0 + r);
        acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
      }
    }
    for (int r = 0; r < 4; ++r) {
      _mm256_storeu_ps(c + (i0 + r) * T, acc[r][0]);
      _mm256_storeu_ps(c + (i0 + r) * T + 8, acc[r][1]);
    }
  }
}

bool haveAvx2Fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

/// The fast kernel: FMA with AVX2 when every product is exact (bit-identical to the definition),
/// otherwise the portable loop.
void mmaHost(const float* a, const float* b, float* c, std::uint64_t k, bool zero) {
  if (haveAvx2Fma() && productsExact(a, b, k * T)) {
    if (zero) std::fill(c, c + T * T, 0.0f);
    mmaFmaAvx2(a, b, c, k);
    for (int i = 0; i < T * T; ++i) c[i] = canonical(c[i]);
    return;
  }
  mmaFast(a, b, c, k, zero);
}

}  // namespace

void mmaKernel(const float* a, const float* b, float* c, std::uint64_t k, bool zero, bool reference) {
  if (reference) mmaReference(a, b, c, k, zero);
  else mmaHost(a, b, c, k, zero);
}

StepResult executeMatrix(CoreState& core, ThreadState& t, const Instruction& inst, const Operands& o,
                         const ExecOptions& options) {
  const std::uint64_t k = o.n;
  const std::uint64_t rowBytes = std::uint64_t(T * dtypeSize(inst.type));
  const std::uint64_t kStep = kVectorBytes / rowBytes;  // panel rows per 64 B line
  if (k == 0 || k > std::uint64_t(kMmaMaxK) || k % kStep)
    throw ExecError("mma: K = " + std::to_string(k) + " must be a multiple of " + std::to_string(kStep) + " in [" +
                    std::to_string(kStep) + ", " + std::to_string(kMmaMaxK) + "] for " + dtypeName(inst.type) +
                    " operands (whole 64 B lines)");
  for (const Access& acc : accessesOf(inst, o)) {
    const char* what = acc.write ? "mma C tile" : acc.addr == o.a ? "mma A panel" : acc.addr == o.b ? "mma B panel" : "mma C tile";
    checkAligned(acc.addr, kVectorBytes, what);
    checkRange(core, acc.addr, acc.bytes, what);
  }
  StepResult res;
  res.matrixFlops = 2ull * T * T * k;
  if (!options.values) return res;
  const int bias = biasOf(t, inst.type);
  thread_local std::vector<float> a, b;
  a.resize(k * T);
  b.resize(k * T);
  alignas(64) float c[T * T];
  loadFloats(core.sram, o.a, inst.type, k * T, bias, a.data());
  loadFloats(core.sram, o.b, inst.type, k * T, bias, b.data());
  const bool zero = inst.op == Op::Mmaz;
  if (!zero) core.sram.read(o.c, c, sizeof c);
  mmaKernel(a.data(), b.data(), c, k, zero, options.referenceKernels);
  core.sram.write(o.c, c, sizeof c);
  return res;
}

}  // namespace tatami::detail
