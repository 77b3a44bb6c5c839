// The cost model's table of --explain.
#include "cost_table.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>

#include "format_text.h"

namespace tatami::cli {

using namespace tatami::compiler;

void printCostTable(const LoweredProgram& lp, const std::vector<OpMeasure>* measured, std::ostream& out) {
  out << "op                        shape          partition                  bound     " << (lp.threadsUsed > 1 ? "thr " : "") << "estimate"
      << (measured ? "   measured  est/meas  MFLOP  FLOP/cyc  matrix vector  dma  sram KB  mesh KB  hbm KB  limit" : "") << "\n";
  double total = 0;
  const auto kib = [](std::uint64_t bytes) { return bytes ? readable(double(bytes) / 1024.0, 1) : std::string("-"); };
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
          << std::setw(5) << share(m.busy[std::size_t(Unit::Dma)], m.cycles) << std::setw(9) << kib(m.sramBytes) << std::setw(9)
          << kib(m.meshBytes) << std::setw(8) << kib(m.hbmBytes) << "  " << m.limit();
    }
    out << "\n";
    if (!oc.choice.empty()) out << "  chosen: " << oc.choice << "\n";
    total += oc.cycles;
  }
  out << "total: estimated " << std::llround(total) << " cycles per step";
  if (lp.threadsUsed > 1) out << " on one thread, " << std::llround(lp.estimatedCycles) << " on the " << lp.threadsUsed << " threads it runs on";
  out << "; SRAM peak " << lp.sramPeakBytes << " bytes";
  if (!lp.hbmHomes.empty()) {  // the step did not fit in SRAM: streamed (and offloaded)
    out << "; weights and optimizer state streamed from HBM";
    if (lp.offloadGap)
      out << ", " << lp.offloaded.size() << " intermediates offloaded to it (kept across more than " << lp.offloadGap << " ops"
          << (lp.offloadReduced ? ", all-reduced gradients included" : "") << ")";
  }
  out << "\n";
  if (measured)
    out << "(MFLOP: the op's useful matrix FLOPs, FLOP/cyc: per measured cycle (the peak: 2 x matrix_units x matrix_dim^2); "
           "matrix, vector, dma: the units' busy cycles on the op's instructions, of its measured cycles; sram, mesh, hbm KB: the "
           "bytes its instructions moved through the core's SRAM ports, over the mesh (put, get) and to or from HBM; limit: the "
           "unit busy 60% of them or more, else latency)\n";
}

void labelGridOps(const Graph& g, const GridPlan& plan, const std::string& grid, LoweredProgram& lp) {
  for (auto& oc : lp.ops) {
    const int v = g.find(oc.node);
    oc.partition = "grid " + grid + (v >= 0 ? " [" + layoutText(plan, v) + "]" : "");
  }
}

}  // namespace tatami::cli
