// Internal: regression cases compiled from a model (tests/regress/NAME/compile.ini): the step is
// compiled for its placement, run once from seeded inputs, and its cycles, per-unit busy cycles
// and a hash of every output tensor are the figures compared with the golden.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tatami/arch/config.h"

namespace tatami::cli {

/// Compiles and runs the case described by `specPath` on `config`; returns its metrics, or throws
/// (UsageError for a malformed spec naming the file and line; a compile or run error as it is).
nlohmann::ordered_json runCompiledCase(const std::string& specPath, const ArchConfig& config, bool timingOnly);

}  // namespace tatami::cli
