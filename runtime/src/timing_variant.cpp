// Which parameters a compiled bundle's programs depend on (see timing_variant.h).
#include "tatami/runtime/timing_variant.h"

#include <map>

#include "tatami/runtime/bundle.h"

namespace tatami::runtime {

std::string programDependence(const std::string& key) {
  // Everything else (clocks, unit rates and latencies, ports, DMA setup, links, routing,
  // buffers, die-edge and HBM rates, the simulation's own settings) changes only the timing: a
  // compiled program issues the same instructions under any value.
  static const std::map<std::string, std::string> depends = {
      {"core.threads", "the hardware threads its ops are planned on"},
      {"core.sram_kib", "its SRAM layout"},
      {"die.rows", "its cores' positions and rings"},
      {"die.cols", "its cores' positions and rings"},
      {"die.disabled_cores", "which cores run it"},
      {"tile.die_rows", "its cores' positions and rings"},
      {"tile.die_cols", "its cores' positions and rings"},
      {"system.die_rows", "its cores' positions and rings"},
      {"system.die_cols", "its cores' positions and rings"},
      {"dip.per_tile", "the interface processors its HBM addresses name"},
      {"dip.hbm_gib", "its HBM addresses"},
  };
  const auto it = depends.find(key);
  return it == depends.end() ? std::string() : it->second;
}

std::vector<ChangedParam> timingVariant(const ArchConfig& compiled, const ArchConfig& now) {
  std::vector<ChangedParam> changed;
  for (const ParamSpec& p : paramSpecs()) {
    const std::string key = p.key(), was = paramText(compiled, key), is = paramText(now, key);
    if (was == is) continue;
    const std::string why = programDependence(key);
    if (!why.empty())
      throw BundleError(key + " = " + is + " differs from the bundle's " + key + " = " + was + ", and the compiled programs depend on it (" +
                        why + "): recompile for it; a bundle runs under other timing parameters only");
    changed.push_back({key, was, is});
  }
  return changed;
}

}  // namespace tatami::runtime
