// Reference semantics of the matrix instruction, and its fast host kernel.
//   C (16 x 16 FP32, row-major, 64 B rows) += A^T B, where the A panel holds K rows of 16
//   elements (row k = A[0..15][k]) and the B panel K rows of 16 elements (row k = B[k][0..15]).
// Each C element accumulates its K products in order k = 0, 1, ..., K-1: acc = fl(acc + fl(a*b)),
// starting from C (mma) or +0 (mmaz). A BF16 or CFP8 product is exact in FP32 except on overflow
// or underflow, where it is rounded to nearest even before the addition.
#include <cstring>

#include "semantics_internal.h"
#include "tatami/arch/numerics.h"

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

}  // namespace

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
  std::vector<float> a(k * T), b(k * T);
  float c[T * T];
  loadFloats(core.sram, o.a, inst.type, k * T, bias, a.data());
  loadFloats(core.sram, o.b, inst.type, k * T, bias, b.data());
  const bool zero = inst.op == Op::Mmaz;
  if (!zero) core.sram.read(o.c, c, sizeof c);
  if (options.referenceKernels) mmaReference(a.data(), b.data(), c, k, zero);
  else mmaFast(a.data(), b.data(), c, k, zero);
  core.sram.write(o.c, c, sizeof c);
  return res;
}

}  // namespace tatami::detail
