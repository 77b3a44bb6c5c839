// A compiled bundle under other timing: which machine parameters its programs depend on (their
// SRAM layout, threads, cores and addresses), and which only change how long they take (clocks,
// latencies, bandwidths, buffers), so that one compiled step can be timed on many machines.
#pragma once

#include <string>
#include <vector>

#include "tatami/arch/config.h"

namespace tatami::runtime {

/// What a compiled program takes from parameter `key` (for example "its SRAM layout"), or
/// empty when the program runs unchanged under any value of it.
std::string programDependence(const std::string& key);

/// One parameter a timing variant changes.
struct ChangedParam {
  std::string key, compiled, now;
};

/// The parameters in which `now` differs from `compiled` (a bundle's configuration). Throws
/// BundleError naming the first one the programs depend on, with both values and why.
std::vector<ChangedParam> timingVariant(const ArchConfig& compiled, const ArchConfig& now);

}  // namespace tatami::runtime
