// The host oracle: a plain implementation of every IR op, evaluated in double precision (or with
// each result rounded to FP32, and matrix operands to BF16 for a mixed-precision step), used by tests and by `tatami check` to judge compiled programs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tatami/compiler/ir.h"

namespace tatami::compiler {

struct Tensor {
  Shape shape;
  std::vector<double> data;
};

struct EvalOptions {
  bool roundToFloat = false;  ///< round every op's result to FP32 (what an FP32 machine computes)
  /// Round the two operands of every matrix product (matmul, conv2d and its two gradients) to
  /// BF16, nearest even, before the product: the mixed-precision policy of the matrix unit
  /// (docs/compiler.md, "Mixed precision"); the products still accumulate exactly.
  bool bf16MatrixOperands = false;
  /// Accumulate every sum (matrix products, convolutions, reductions, pooling) term by term in
  /// FP32, in the order of the loops, as a naive FP32 machine does: with roundToFloat, an estimate
  /// of the rounding noise an FP32 framework's result carries (a long sum that largely cancels
  /// loses most of its digits), which the FP64 result does not.
  bool accumulateInFloat = false;
};

/// Evaluates the graph. `feeds` gives every input by name (parameters and constants use their
/// data unless fed). Returns every value's tensor, indexed by value id. Throws CompileError.
std::vector<Tensor> evaluate(const Graph& g, const std::map<std::string, Tensor>& feeds, const EvalOptions& options = {});

}  // namespace tatami::compiler
