// Internal to the reference semantics: checks and element access shared by its source files.
#pragma once

#include <string>
#include <vector>

#include "tatami/arch/formats.h"
#include "tatami/arch/semantics.h"

namespace tatami::detail {

std::string hex(std::uint64_t v);
void checkRange(const CoreState& core, std::uint64_t addr, std::uint64_t bytes, const char* what);
void checkAligned(std::uint64_t addr, std::uint64_t alignment, const char* what);

/// The narrow float format of a type at a bias (BF16 ignores the bias).
FloatFormat formatOf(DType t, int bias);
int defaultBias(DType t);
int biasOf(const ThreadState& t, DType type);

/// Elements of any float type as FP32 (exact).
void loadFloats(const Sram& sram, std::uint64_t addr, DType type, std::uint64_t n, int bias, float* out);
/// FP32 values to any float type, round to nearest even.
void storeFloats(Sram& sram, std::uint64_t addr, DType type, std::uint64_t n, int bias, const float* in);

StepResult executeVector(CoreState& core, ThreadState& t, const Instruction& inst, const Operands& o,
                         const ExecOptions& options);
/// C (16 x 16) = (zero ? 0 : C) + A^T B over k panel rows: the definition (reference = true) or
/// the fast host kernel; both give the same bits. `productsExact` promises that every a*b is exact
/// in FP32 (which lets the fast kernel use FMA).
void mmaKernel(const float* a, const float* b, float* c, std::uint64_t k, bool zero, bool reference,
               bool productsExact);

StepResult executeMatrix(CoreState& core, ThreadState& t, const Instruction& inst, const Operands& o,
                         const ExecOptions& options);

}  // namespace tatami::detail
