// Internal: the spatial and indexing ops of the IR (see ops_spatial.cpp).
#pragma once

#include <string>
#include <vector>

#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/ir.h"

namespace tatami::compiler {

Shape inferSpatialShape(const std::vector<Shape>& inputs, const Node& n);
/// Computes y (already shaped) from the inputs; with `floatSums` every sum accumulates in FP32.
void evalSpatial(const Node& n, const std::vector<const Tensor*>& inputs, Tensor& y, bool floatSums = false);

/// acc += x, rounded to FP32 after the addition when `inFloat` (an FP32 adder).
inline void accumulate(double& acc, double x, bool inFloat) { acc = inFloat ? double(float(acc + x)) : acc + x; }

}  // namespace tatami::compiler
