// The cost model's table of --explain.
#include "cost_table.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>

#include "format_text.h"

namespace tatami::cli {

using namespace tatami::compiler;

void printCostTable(const LoweredProgram& lp, const std::vector<std::uint64_t>* measured, std::ostream& out) {
  out << "op                        shape          partition                  bound     estimate" << (measured ? "   measured  est/meas" : "")
      << "\n";
  double total = 0;
  for (std::size_t i = 0; i < lp.ops.size(); ++i) {
    const auto& oc = lp.ops[i];
    std::string name = oc.op + " " + oc.node, shape = oc.shape, partition = oc.partition, bound = oc.bound;
    name.resize(26, ' '), shape.resize(15, ' '), partition.resize(27, ' '), bound.resize(10, ' ');
    out << name << shape << partition << bound << std::setw(8) << std::llround(oc.cycles);
    if (measured) {
      const std::uint64_t m = (*measured)[i];
      out << std::setw(11) << m << std::setw(10) << (m ? readable(oc.cycles / double(m), 2) : std::string("-"));
    }
    out << "\n";
    if (!oc.choice.empty()) out << "  chosen: " << oc.choice << "\n";
    total += oc.cycles;
  }
  out << "total: estimated " << std::llround(total) << " cycles per step; SRAM peak " << lp.sramPeakBytes << " bytes\n";
}

void labelGridOps(const Graph& g, const GridPlan& plan, const std::string& grid, LoweredProgram& lp) {
  for (auto& oc : lp.ops) {
    const int v = g.find(oc.node);
    oc.partition = "grid " + grid + (v >= 0 ? " [" + layoutText(plan, v) + "]" : "");
  }
}

std::vector<std::uint64_t> measuredPerOp(const LoweredProgram& lp, const runtime::RunResult& run) {
  std::vector<std::uint64_t> endAt(lp.ops.size(), 0), measured;
  for (const auto& sl : run.traces.front().slices)
    for (std::size_t i = 0; i < lp.ops.size(); ++i)
      if (sl.pc >= lp.ops[i].firstPc && sl.pc < lp.ops[i].endPc) endAt[i] = std::max(endAt[i], sl.start + sl.cycles);
  std::uint64_t before = 0;
  for (std::size_t i = 0; i < lp.ops.size(); ++i) {
    const std::uint64_t end = std::max(endAt[i], before);
    measured.push_back(end - before);
    before = end;
  }
  return measured;
}


}  // namespace tatami::cli
