// The work a graph asks of the matrix units: the FLOPs of its matrix products and convolutions,
// counted from their logical shapes (2 x multiply-adds, before any padding to the units' tiles).
// Run reports divide these by the peak to give matrix utilization of useful work (docs/timing.md).
#pragma once

#include <cstdint>

#include "tatami/compiler/ir.h"

namespace tatami::compiler {

/// 2 x the multiply-adds node `n` asks for when it is a matrix product (matmul, batched and
/// broadcast included) or a convolution or one of its gradients; 0 for every other op.
std::uint64_t matrixFlops(const Graph& g, const Node& n);

/// The sum of matrixFlops over the graph's nodes.
std::uint64_t matrixFlops(const Graph& g);

}  // namespace tatami::compiler
