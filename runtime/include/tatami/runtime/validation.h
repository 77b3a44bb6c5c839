// The network's validation: the fast reservation model against the flit-level reference on
// synthetic traffic, both against the pattern's throughput bound, and zero-load latency against
// the formula of docs/timing.md. `tatami validate` prints it as docs/validation.md.
#pragma once

#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/runtime/traffic.h"

namespace tatami::runtime {

/// One mesh and pattern: both models swept over offered rates (fractions of the bound), their
/// saturation throughput (the largest accepted rate over the sweep, the same definition for
/// both) and their mean latency at 10%, 50% and 80% of the flit model's saturation.
struct PatternValidation {
  std::string mesh, pattern;
  double bound = 0;
  double saturationFast = 0, saturationFlit = 0;
  double latencyFast[3] = {0, 0, 0}, latencyFlit[3] = {0, 0, 0};  ///< at 10%, 50%, 80% of saturation
  double hostSecondsFast = 0, hostSecondsFlit = 0;
  /// More accepted than the links allow. Not for hotspot traffic: its bound is the offered rate
  /// at which the hotspot's ejection port saturates, and past it the other flows go on, so the
  /// accepted rate may exceed it.
  bool aboveBound() const {
    return pattern != "hotspot" && (saturationFast > bound * 1.001 || saturationFlit > bound * 1.001);
  }
};

/// A zero-load case: one transfer alone, the formula's cycles and each model's.
struct ZeroLoadCase {
  std::string what;
  std::uint64_t formula = 0, fast = 0, flit = 0;
};

struct NamedConfig {
  std::string name;
  ArchConfig config;
};

/// The preset with a rows x cols die, every core active, dieRows x dieCols dies.
ArchConfig meshConfig(int rows, int cols, int dieRows, int dieCols);

/// The meshes of the report: 8x8 and 16x16 dies, two and four 8x8 dies.
std::vector<NamedConfig> validationMeshes();
/// The fractions of the bound the sweep offers.
const std::vector<double>& sweepFractions();

PatternValidation validatePattern(const NamedConfig& mesh, const std::string& pattern, const TrafficOptions& base);
std::vector<ZeroLoadCase> zeroLoadCases();

}  // namespace tatami::runtime
