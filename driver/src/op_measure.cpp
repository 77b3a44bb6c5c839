// What each op of a compiled program did in a traced run (see op_measure.h).
#include "tatami/driver/op_measure.h"

#include <algorithm>
#include <map>

namespace tatami::driver {

using namespace tatami::compiler;

std::string OpMeasure::limit() const {
  std::size_t most = 0;
  for (std::size_t u = 1; u < busy.size(); ++u)
    if (busy[u] > busy[most]) most = u;
  return cycles && double(busy[most]) >= 0.6 * double(cycles) ? unitName(Unit(most)) : "latency";
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
        measured[i].sramBytes += sl.sramBytes;
        measured[i].meshBytes += sl.meshBytes;
        measured[i].hbmBytes += sl.hbmBytes;
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

}  // namespace tatami::driver
