// Internal: a sweep's spec (docs/sweep.md): workloads (compiled models, programs, traffic) and
// parameter axes, crossed or zipped into points; and what one point measures.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/driver/step.h"
#include "tatami/runtime/traffic.h"

namespace tatami::cli {

struct SweepWorkload {
  enum class Kind { Model, Program, Traffic };
  std::string name;
  Kind kind = Kind::Model;
  driver::CompileRequest request;  ///< Model: the step and its placement policy (none: automatic)
  std::string program;             ///< Program: a .tasm or binary program, run on core 0
  runtime::TrafficOptions traffic;  ///< Traffic: a pattern at one offered rate
};

struct SweepAxis {
  std::string key;                  ///< a machine parameter (section.name)
  std::vector<std::string> values;  ///< as --set takes them
};

struct SweepSpec {
  std::string path;
  std::string configFile;            ///< the base configuration (empty: the D1 preset)
  std::vector<std::string> sets;     ///< fixed overrides on top of it
  bool zip = false;                  ///< the i-th values of every axis together, instead of every combination
  std::vector<SweepAxis> axes;
  std::vector<SweepWorkload> workloads;
};

/// One point: a workload under one value of each axis.
struct SweepPoint {
  std::size_t index = 0;
  const SweepWorkload* workload = nullptr;
  std::vector<std::pair<std::string, std::string>> params;  ///< axis key, value
  /// Everything that makes the point what it is (base, overrides, workload, values): a finished
  /// point is reused on a resumed sweep only if this is unchanged.
  std::string describe;
};

/// Reads a spec; throws UsageError naming the file, the line and the problem (an unknown key,
/// a parameter that does not exist, an axis without values, zipped axes of other lengths, ...).
SweepSpec readSweepSpec(const std::string& path);

/// Every point, workloads outermost, then the axes in their order (the last one fastest).
std::vector<SweepPoint> sweepPoints(const SweepSpec& spec);

/// The point's configuration: the base, the fixed overrides, the point's values.
ArchConfig pointConfig(const SweepSpec& spec, const SweepPoint& point);

/// Runs the point (timing only) and returns its metrics as a flat JSON object (numbers, and the
/// placement for a model). Throws on a failure, with the reason.
nlohmann::ordered_json measurePoint(const SweepSpec& spec, const SweepPoint& point);

}  // namespace tatami::cli
