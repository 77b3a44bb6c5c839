// Internal: how run results are shown (console text and JSON), shared by `run` and `regress`.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/runtime/run.h"

namespace tatami::cli {

/// Every figure of a run, unrounded.
nlohmann::ordered_json runJson(const ArchConfig& config, const runtime::RunResult& r, bool timingOnly);
/// The figures that regression goldens hold, flattened to name -> integer or string.
nlohmann::ordered_json regressionMetrics(const runtime::RunResult& r);
/// A readable report for the console.
/// The numeric leaves of a result (a run's JSON, a check's, a train's), by their path
/// ("units.dma.busy_cycles", "threads.thread0.stall_cycles.unit"); where outputs lie, and the
/// per-link, per-router and per-edge records, are left out.
std::vector<std::pair<std::string, double>> metricLeaves(const nlohmann::ordered_json& j);
/// The step's breakdown (runtime/breakdown.h) as the text report's lines.
void printBreakdownText(const runtime::Breakdown& b, std::ostream& out);

void printRunText(const ArchConfig& config, const runtime::RunResult& r, bool timingOnly, std::ostream& out);
std::string hashText(std::uint64_t h);

}  // namespace tatami::cli
