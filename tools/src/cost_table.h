// Internal: the cost model's table that `compile --explain` and `check --explain` print: one row
// per op with its partition, what bounds it, its estimate (and the measured cycles beside it),
// and the choices the cost model made.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "tatami/compiler/lower.h"
#include "tatami/compiler/partition.h"
#include "tatami/driver/op_measure.h"
#include "tatami/runtime/run.h"

namespace tatami::cli {

using driver::OpMeasure;
using driver::measuredPerOp;

/// The cost model's table: one row per op; `measured` (if given) beside the estimate, with the
/// op's roofline position: its useful matrix FLOPs, FLOPs per cycle, its units' busy shares and
/// what limited it.
void printCostTable(const compiler::LoweredProgram& lp, const std::vector<OpMeasure>* measured, std::ostream& out);

/// Each op of a grid position's program labelled with its result's layout in the full graph: per
/// dimension split over the grid's rows (r), its columns (c), or whole (-).
void labelGridOps(const compiler::Graph& g, const compiler::GridPlan& plan, const std::string& grid, compiler::LoweredProgram& lp);

}  // namespace tatami::cli
