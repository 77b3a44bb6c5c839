// The cost model's table of --explain.
#include "cost_table.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <ostream>

#include "format_text.h"

namespace tatami::cli {

using namespace tatami::compiler;

std::string OpMeasure::limit() const {
  std::size_t most = 0;
  for (std::size_t u = 1; u < busy.size(); ++u)
    if (busy[u] > busy[most]) most = u;
  return cycles && double(busy[most]) >= 0.6 * double(cycles) ? unitName(Unit(most)) : "latency";
}

void printCostTable(const LoweredProgram& lp, const std::vector<OpMeasure>* measured, std::ostream& out) {
  out << "op                        shape          partition                  bound     " << (lp.threadsUsed > 1 ? "thr " : "") << "estimate"
      << (measured ? "   measured  est/meas  MFLOP  FLOP/cyc  matrix vector  dma  limit" : "") << "\n";
  double total = 0;
  const auto share = [](std::uint64_t busy, std::uint64_t cycles) {
    return cycles ? std::to_string(std::llround(100.0 * double(busy) / double(cycles))) + "%" : std::string("-");
  };
  for (std::size_t i = 0; i < lp.ops.size(); ++i) {
    const auto& oc = lp.ops[i];
    std::string name = oc.op + " " + oc.node, shape = oc.shape, partition = oc.partition, bound = oc.bound;
    name.resize(26, ' '), shape.resize(15, ' '), partition.resize(27, ' '), bound.resize(10, ' ');
    out << name << shape << partition << bound;
    if (lp.threadsUsed > 1) out << "t" << oc.thread << "  ";
    out << std::setw(8) << std::llround(oc.cycles);
    if (measured) {
      const OpMeasure& m = (*measured)[i];
      out << std::setw(11) << m.cycles << std::setw(10) << (m.cycles ? readable(oc.cycles / double(m.cycles), 2) : std::string("-"))
          << std::setw(7) << (oc.usefulFlops ? readable(double(oc.usefulFlops) / 1e6, 2) : std::string("-")) << std::setw(10)
          << (oc.usefulFlops && m.cycles ? readable(double(oc.usefulFlops) / double(m.cycles), 0) : std::string("-")) << std::setw(8)
          << share(m.busy[std::size_t(Unit::Matrix)], m.cycles) << std::setw(7) << share(m.busy[std::size_t(Unit::Vector)], m.cycles)
          << std::setw(5) << share(m.busy[std::size_t(Unit::Dma)], m.cycles) << "  " << m.limit();
    }
    out << "\n";
    if (!oc.choice.empty()) out << "  chosen: " << oc.choice << "\n";
    total += oc.cycles;
  }
  out << "total: estimated " << std::llround(total) << " cycles per step";
  if (lp.threadsUsed > 1) out << " on one thread, " << std::llround(lp.estimatedCycles) << " on the " << lp.threadsUsed << " threads it runs on";
  out << "; SRAM peak " << lp.sramPeakBytes << " bytes\n";
  if (measured)
    out << "(MFLOP: the op's useful matrix FLOPs, FLOP/cyc: per measured cycle (the peak: 2 x matrix_units x matrix_dim^2); "
           "matrix, vector, dma: the units' busy cycles on the op's instructions, of its measured cycles; limit: the unit busy "
           "60% of them or more, else latency)\n";
}

void labelGridOps(const Graph& g, const GridPlan& plan, const std::string& grid, LoweredProgram& lp) {
  for (auto& oc : lp.ops) {
    const int v = g.find(oc.node);
    oc.partition = "grid " + grid + (v >= 0 ? " [" + layoutText(plan, v) + "]" : "");
  }
}

std::vector<OpMeasure> measuredPerOp(const LoweredProgram& lp, const runtime::RunResult& run) {
  // An op's cycles: from the end of the previous op on its thread (or, when it first waited for
  // other threads, from its first instruction) to its last completion.
  std::vector<std::uint64_t> endAt(lp.ops.size(), 0), firstAt(lp.ops.size(), UINT64_MAX);
  std::vector<OpMeasure> measured(lp.ops.size());
  for (const auto& sl : run.traces.front().slices)
    for (std::size_t i = 0; i < lp.ops.size(); ++i)
      if (sl.pc >= lp.ops[i].firstPc && sl.pc < lp.ops[i].endPc) {
        endAt[i] = std::max(endAt[i], sl.start + sl.cycles);
        firstAt[i] = std::min(firstAt[i], sl.start);
        measured[i].busy[std::size_t(sl.unit)] += sl.cycles;
      }
  std::map<int, std::uint64_t> before;  // by thread
  for (std::size_t i = 0; i < lp.ops.size(); ++i) {
    std::uint64_t& prev = before[lp.ops[i].thread];
    const std::uint64_t from = lp.ops[i].waits && firstAt[i] != UINT64_MAX ? std::max(prev, firstAt[i]) : prev;
    const std::uint64_t end = std::max(endAt[i], from);
    measured[i].cycles = end - from;
    prev = end;
  }
  return measured;
}

}  // namespace tatami::cli
