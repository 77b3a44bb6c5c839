// What each op of a compiled program did in a traced run: its cycles on its thread and the busy
// cycles of each unit on its instructions (`check --explain`, `compare`, the cost model's test).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tatami/compiler/lower.h"
#include "tatami/runtime/run.h"

namespace tatami::driver {

/// What one op did on the first core of a traced run: the cycles it took (from the end of the
/// previous op on its thread, or from its first instruction when it first waited for another
/// thread, to its last completion) and the busy cycles of each unit on its instructions.
struct OpMeasure {
  std::uint64_t cycles = 0;
  std::array<std::uint64_t, kUnitCount> busy{};
  /// Bytes its instructions moved through the SRAM ports, over the mesh (put, get) and to or from
  /// HBM (see tlm::TraceSlice).
  std::uint64_t sramBytes = 0, meshBytes = 0, hbmBytes = 0;
  /// What limited it: the unit busy for at least 60% of its cycles (the busiest), else "latency"
  /// (dependences, issue, semaphore and network waits).
  std::string limit() const;
};

/// Each op of `lp` on the first core of a traced run.
std::vector<OpMeasure> measuredPerOp(const compiler::LoweredProgram& lp, const runtime::RunResult& run);

}  // namespace tatami::driver
