// How the cycles of real workloads respond to each parameter an architect changes: a GEMM on one
// core, a training step on one core, on a slice of a die and on a slice across two dies, each run
// at the preset and with one parameter changed, against the direction physics expects. Part of
// the validation report (tatami validate).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tatami/arch/config.h"

namespace tatami::driver {

struct SensitivityRow {
  std::string key, value;  ///< the parameter and the value it is changed to
  int expected = 0;  ///< +1: cycles must not fall; -1: must not rise; 0: must stay the same; 2: no direction
  std::string why;         ///< the physics of the expectation
  std::vector<std::uint64_t> cycles;  ///< per workload, with the change
  bool holds = true;       ///< every workload moved as expected
};

struct Sensitivity {
  std::vector<std::string> workloads;
  std::vector<std::uint64_t> baseline;  ///< per workload, at the preset
  std::vector<SensitivityRow> rows;
};

/// Runs every workload at the preset and under each change (timing only: the same cycles as a
/// full run). `sourceDir` is where examples/ is.
Sensitivity sensitivity(const std::string& sourceDir);

}  // namespace tatami::driver
