// The host oracle: a plain implementation of every IR op, evaluated in double precision (or with
// each result rounded to FP32), used by tests and by `tatami check` to judge compiled programs.
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
};

/// Evaluates the graph. `feeds` gives every input by name (parameters and constants use their
/// data unless fed). Returns every value's tensor, indexed by value id. Throws CompileError.
std::vector<Tensor> evaluate(const Graph& g, const std::map<std::string, Tensor>& feeds, const EvalOptions& options = {});

}  // namespace tatami::compiler
