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

/// BF16 panel codes to FP32, and the range of exponent fields among the finite non-zero values
/// (what decides whether a product can be inexact).
struct ExponentRange {
  std::uint32_t maxExp = 0, minExp = 255;
};

bool haveAvx2Fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

/// The conversion loop, portable form.
ExponentRange bf16ToFp32Range(const std::uint16_t* codes, std::uint32_t* bits, std::uint64_t n) {
  std::uint32_t maxExp = 0, minExp = 255;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint32_t c = codes[i];
    const std::uint32_t e = (c >> 7) & 0xFF;
    const bool counted = e != 0xFF && (c & 0x7FFF) != 0;
    maxExp = std::max(maxExp, counted ? e : 0u);
    minExp = std::min(minExp, counted ? e : 255u);
    bits[i] = c << 16;
  }
  return {maxExp, minExp};
}

/// The same with AVX2, 8 codes at a time (n is a multiple of 16: whole panel rows).
__attribute__((target("avx2"))) ExponentRange bf16ToFp32RangeAvx2(const std::uint16_t* codes, std::uint32_t* bits,
                                                                  std::uint64_t n) {
  const __m256i ff = _mm256_set1_epi32(0xFF), mag = _mm256_set1_epi32(0x7FFF), zero = _mm256_setzero_si256();
  __m256i vmax = zero, vmin = ff;
  for (std::uint64_t i = 0; i < n; i += 8) {
    const __m256i c = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bits + i), _mm256_slli_epi32(c, 16));
    const __m256i e = _mm256_and_si256(_mm256_srli_epi32(c, 7), ff);
    const __m256i skip = _mm256_or_si256(_mm256_cmpeq_epi32(e, ff), _mm256_cmpeq_epi32(_mm256_and_si256(c, mag), zero));
    vmax = _mm256_max_epu32(vmax, _mm256_andnot_si256(skip, e));
    vmin = _mm256_min_epu32(vmin, _mm256_or_si256(_mm256_and_si256(skip, ff), _mm256_andnot_si256(skip, e)));
  }
  alignas(32) std::uint32_t hi[8], lo[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(hi), vmax);
  _mm256_store_si256(reinterpret_cast<__m256i*>(lo), vmin);
  ExponentRange r;
  for (int l = 0; l < 8; ++l) r.maxExp = std::max(r.maxExp, hi[l]), r.minExp = std::min(r.minExp, lo[l]);
  return r;
}

ExponentRange bf16Panel(const Sram& sram, std::uint64_t addr, std::uint64_t n, float* out) {
  thread_local std::vector<std::uint16_t> codes;
  codes.resize(n);
  sram.read(addr, codes.data(), n * 2);
  static_assert(sizeof(float) == sizeof(std::uint32_t));
  auto* bits = reinterpret_cast<std::uint32_t*>(out);
  return (haveAvx2Fma() && n % 8 == 0) ? bf16ToFp32RangeAvx2(codes.data(), bits, n) : bf16ToFp32Range(codes.data(), bits, n);
}

/// True when every product of a BF16 value from panel A and one from panel B is exact in FP32:
/// no overflow (leading-bit exponents sum to at most 126) and no bits below 2^-149 (a BF16 value
/// has at most 8 significant bits, so its lowest bit is at exponent e - 134, or -133 if denormal).
/// Then fma(a, b, acc) rounds exactly like acc + fl(a*b). CFP8 products are always exact.
bool bf16ProductsExact(ExponentRange ra, ExponentRange rb) {
  if (ra.minExp == 255 || rb.minExp == 255) return true;  // only zeros and specials
  const auto top = [](std::uint32_t e) { return int(e) - 127; };
  const auto low = [](std::uint32_t e) { return e == 0 ? -133 : int(e) - 134; };
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


/// The fast kernel: FMA with AVX2 when every product is exact (bit-identical to the definition),
/// otherwise the portable loop.
void mmaHost(const float* a, const float* b, float* c, std::uint64_t k, bool zero, bool productsExact) {
  if (productsExact && haveAvx2Fma()) {
    if (zero) std::fill(c, c + T * T, 0.0f);
    mmaFmaAvx2(a, b, c, k);
    for (int i = 0; i < T * T; ++i)
      if (c[i] != c[i]) c[i] = bitsFloat(kFp32CanonicalNaN);
    return;
  }
  mmaFast(a, b, c, k, zero);
}

}  // namespace

void mmaKernel(const float* a, const float* b, float* c, std::uint64_t k, bool zero, bool reference,
               bool productsExact) {
  if (reference) mmaReference(a, b, c, k, zero);
  else mmaHost(a, b, c, k, zero, productsExact);
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
  bool exact = true;
  if (inst.type == DType::Bf16) {
    const ExponentRange ra = bf16Panel(core.sram, o.a, k * T, a.data());
    const ExponentRange rb = bf16Panel(core.sram, o.b, k * T, b.data());
    exact = bf16ProductsExact(ra, rb);
  } else {
    loadFloats(core.sram, o.a, inst.type, k * T, bias, a.data());
    loadFloats(core.sram, o.b, inst.type, k * T, bias, b.data());
  }
  const bool zero = inst.op == Op::Mmaz;
  if (!zero) core.sram.read(o.c, c, sizeof c);
  mmaKernel(a.data(), b.data(), c, k, zero, options.referenceKernels, exact);
  core.sram.write(o.c, c, sizeof c);
  return res;
}

}  // namespace tatami::detail
