// Tensor-parallel placement over a P x Q grid of cores (2D). Every tensor is split along each of
// its dimensions by at most one grid axis (0: the grid's rows, P parts; 1: its columns, Q parts)
// and replicated over any axis that splits none of its dimensions. A dense layer's weight
// [K, N] is split over both axes, so each core holds one block of every weight, its gradient and
// its optimizer state; activations [batch, features] are split by features over one axis and
// replicated over the other. Matmuls contract a split dimension locally and sum the partial
// products with an all-reduce over the grid line (the `allreduce` op); consecutive layers
// alternate the axes, so a layer's output is already where the next layer needs it, and the
// weight gradient needs no communication at all. Convolutions split their examples over the
// columns and their channels over the rows: one with whole input channels splits its filters (no
// communication), one with split input channels contracts them with an all-reduce, so
// consecutive convolutions alternate too (docs/compiler.md).
//
// Blocks are equal: a dimension of extent n over G cores has blocks of ceil(n / G), the last
// ones padded with zeros, so every core runs the same shapes (and the same SRAM layout, which the
// all-reduce relies on). Zeros stay zeros through matmuls, sums, ReLU and the optimizers; where
// an op has made the padding something else (exp), a sum or a maximum across the padded
// dimension first masks it (a select against the core's real elements), and softmax over padded
// classes masks them with -1e30.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tatami/arch/blocks.h"
#include "tatami/arch/config.h"
#include "tatami/compiler/ir.h"
#include "tatami/compiler/lower.h"

namespace tatami::compiler {

struct GridPlan {
  int rows = 1, cols = 1;
  /// For every value of the full graph: per dimension, the grid axis that splits it, or -1.
  std::vector<std::vector<int>> split;
  /// Block extent of a dimension of extent n split over `axis`.
  std::int64_t block(std::int64_t n, int axis) const;
  int parts(int axis) const { return axis == 0 ? rows : cols; }
};

/// Chooses how every tensor of `g` (a training step) is split over a rows x cols grid: the
/// features of each input that feeds a matmul with a weight are split over the grid's rows, and
/// the choice flows through the graph (weights, their gradients and optimizer state take the
/// layout of the matmul that uses them). Throws CompileError naming the node for what cannot be
/// split this way.
GridPlan planGrid(const Graph& g, int rows, int cols);

/// The block of a full tensor that grid position (r, c) holds: per dimension, where it starts in
/// the full tensor, how many of its elements are real (the rest of `local` is padding) and the
/// local extent. sliceBlock / placeBlock (arch/blocks.h) cut it out and put it back.
using Block = TensorBlock;
Block blockOf(const Graph& g, const GridPlan& plan, int value, int r, int c);

/// The graph grid position (r, c) runs: local shapes, its blocks of parameters and constants,
/// and `allreduce` nodes where a split dimension is contracted or reduced. Values keep their
/// names (inputs, parameters and outputs are found by the same names as in `g`).
Graph localGraph(const Graph& g, const GridPlan& plan, int r, int c);

/// The cores of a rows x cols grid inside the sliceRows x sliceCols slice at the top-left of the
/// system, row-major: when each of the slice's first `rows` rows has `cols` active cores, grid
/// row k is the first `cols` active cores of slice row k (so grid lines are mesh lines, a hop or
/// two between neighbours around a disabled core); otherwise the slice's active cores in
/// row-major order. Throws CompileError when the slice has fewer than rows x cols active cores.
std::vector<int> gridCores(const ArchConfig& config, int sliceRows, int sliceCols, int rows, int cols);

/// A tensor-parallel job: the plan, and per grid position (row-major) its core, local graph and
/// lowered program.
struct GridJob {
  GridPlan plan;
  std::vector<int> cores;
  std::vector<Graph> graphs;
  std::vector<LoweredProgram> lowered;
};

/// Plans `g` on a rows x cols grid whose positions (row-major) are `cores` (system-wide ids),
/// builds each position's graph and lowers it with its grid lines for the all-reduces.
/// `printing.print`: the first position's plan-grid, local-graph and lowering stages are printed
/// after those in printing.printAfter. `prepare` adjusts each position's context; `lower` lowers
/// a position's graph (lowerToCore when empty; the driver's streams from HBM where SRAM is short).
GridJob placeOnGrid(const Graph& g, const ArchConfig& config, const std::vector<int>& cores, int rows, int cols,
                    const std::string& precision, bool initParameters = true, const CoreContext& printing = {},
                    const std::function<void(std::size_t position, CoreContext& ctx)>& prepare = {},
                    const std::function<LoweredProgram(const Graph& local, const CoreContext& ctx, std::size_t position)>& lower = {});

/// One tensor's layout: per dimension r (split over the grid's rows), c (its columns) or -.
std::string layoutText(const GridPlan& plan, int value);
/// Each tensor's layout, one per line: `%name [shape] [r,-]` (per dimension split over the grid's
/// rows r, its columns c, or whole -).
std::string planText(const Graph& g, const GridPlan& plan);

}  // namespace tatami::compiler
