// Internal: the spatial and indexing ops of the IR (see ops_spatial.cpp).
#pragma once

#include <string>
#include <vector>

#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/ir.h"

namespace tatami::compiler {

Shape inferSpatialShape(const std::vector<Shape>& inputs, const Node& n);
/// Computes y (already shaped) from the inputs.
void evalSpatial(const Node& n, const std::vector<const Tensor*>& inputs, Tensor& y);

}  // namespace tatami::compiler
