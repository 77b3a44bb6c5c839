// Internal: a run's trace as Chrome/Perfetto trace-event JSON (one process per core; a track per
// hardware thread for its scalar and sync instructions, and one per shared unit).
#pragma once

#include <string>

#include "tatami/arch/config.h"
#include "tatami/runtime/run.h"

namespace tatami::cli {

std::string traceJson(const ArchConfig& config, const runtime::RunResult& result);

}  // namespace tatami::cli
