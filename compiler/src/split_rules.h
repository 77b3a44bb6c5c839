// Internal: the rules the grid planner (partition.cpp) and the local-graph builder
// (local_graph.cpp) share: how a matmul, a reduction and a reshape run on split operands, and
// what an op leaves in the padding of uneven blocks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tatami/compiler/ir.h"

namespace tatami::compiler::grid {

/// Per dimension of a tensor, the grid axis that splits it (0 rows, 1 columns), or -1.
using Split = std::vector<int>;

bool elementwise(Op op);
/// Convolutions and pools on NCHW tensors, whose examples (N) and channels (C) split like any
/// other dimension and whose spatial dimensions never do.
bool channelOp(Op op);

/// Throws CompileError naming the node: it cannot be split over the grid, and why.
[[noreturn]] void refuse(const Node& n, const std::string& why);

/// How a 2D matmul runs on the grid, from its operands' layouts: which operand dimensions are
/// gathered first (a contracted dimension split differently in the two operands; rows of A split
/// over the axis that splits B's columns or A's own columns), the axis its partial sums are
/// summed over, and whether that sum is a reduce-scatter of rows (the result stays split by rows
/// over that axis: no copy of the whole result on every core) or an all-reduce.
struct MatmulChoice {
  bool gatherA0 = false, gatherA1 = false, gatherB0 = false;
  int contract = -1;
  bool scatter = false;
  Split out;
};
MatmulChoice chooseMatmul(const Split& sa, const Split& sb, const Shape& as, const Shape& bs, int rows, int cols);

/// The value an elementwise op gives in the padding, from its operands' padding values (nullopt:
/// not known at compile time).
std::optional<double> padOfOp(Op op, const std::vector<std::optional<double>>& in);

/// The reduced axes of a reduction node (reduce_* by its `axes`, sum_to by its target shape).
std::vector<bool> reducedAxes(const Graph& g, const Node& n);

/// The layout of a reshape's result from its operand's, or nullopt when it has none.
std::optional<Split> reshapeSplit(const Shape& from, const Split& s, const Shape& to, int rows, int cols);

}  // namespace tatami::compiler::grid
