// A model's training step held to PyTorch's own results (the model zoo, scripts/export_zoo.py):
// the host oracle (FP64) against PyTorch's logits, loss, gradients and weights after one SGD step
// on the same batch, then the emulator against the oracle (FP32), as `tatami check` does.
#pragma once

#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/driver/job.h"

namespace tatami::driver {

struct ReferenceRow {
  std::string tensor;  ///< loss, output, grad/NAME, updated/NAME, or an output of the step
  std::string against; ///< "pytorch" (the oracle against PyTorch) or "oracle" (the emulator against the oracle)
  /// ||got - want||_2 / ||want||_2 over the tensor's elements; for a gradient the denominator is
  /// at least kGradientFloor x the step's largest gradient norm, and that norm itself for a
  /// gradient that vanishes in exact arithmetic (kVanishingGradient)
  double relError = 0;
  /// The bound the row is held to: the check's tolerance, or for a PyTorch tensor (logits, loss,
  /// gradient, updated weight) that carries more FP32 rounding noise than that, kNoiseMargin x
  /// `noise`.
  double tolerance = 0;
  /// A PyTorch tensor outside the base tolerance: the relative difference (same norm) between the
  /// oracle's step evaluated as a naive FP32 machine would (every sum accumulated in FP32) and in
  /// FP64, an estimate of the rounding noise in PyTorch's FP32 result; 0 when not estimated.
  double noise = 0;
};

/// A gradient smaller than this fraction of the step's largest is compared with that fraction
/// instead of its own norm: one that nearly vanishes is mostly FP32 rounding noise in PyTorch's
/// result, and relative to itself that noise would count as a large error.
constexpr double kGradientFloor = 1e-2;
/// A gradient the FP64 oracle finds below this fraction of the step's largest vanishes in exact
/// arithmetic (a bias right before a normalization): PyTorch's is then only its FP32 rounding
/// noise, which is compared with the step's largest gradient norm.
constexpr double kVanishingGradient = 1e-9;
/// A gradient that PyTorch's FP32 arithmetic cannot give to 1e-5 (a sum over many positions that
/// largely cancels: a batch norm's scale, a bias before a global pooling) is held to this multiple
/// of its estimated FP32 noise instead. The estimate is one sample of the rounding (sums term by
/// term in the loops' order); PyTorch's kernels sum in other orders, another sample of it.
/// Measured against PyTorch's own FP64 results, PyTorch's FP32 error was 0.23 times the estimate
/// (an EfficientNet-style block's batch norm scale) and 3.6 times it (a Conv3d bias summed over
/// 4,096 positions), so the margin is 4.
constexpr double kNoiseMargin = 4;

struct ReferenceCheck {
  CompiledJob job;
  runtime::BundleRun run;
  std::vector<ReferenceRow> rows;
  double worstPytorch = 0, worstOracle = 0;
  double lr = 0;
  /// The tolerances the step is held to: the oracle against PyTorch 1e-5; the emulator against
  /// the oracle 1e-5 in FP32, 2e-2 in mixed precision (BF16 matmul operands).
  double pytorchTolerance = 1e-5, oracleTolerance = 1e-5;
  /// Every row within its tolerance.
  bool passes() const;
  /// The rows outside their tolerances, as "NAME ERROR > TOLERANCE (against)".
  std::vector<std::string> failures() const;
};

/// Reads the reference file `refPath` (its batch, targets and learning rate), builds the step of
/// r.model with softmax cross-entropy and SGD at that rate, placed as r says, and compares. Throws
/// DataError for an unreadable or incomplete reference, RequestError or CompileError otherwise.
ReferenceCheck checkReference(CompileRequest r, const ArchConfig& config, const std::string& refPath, runtime::RunOptions options = {});

}  // namespace tatami::driver
