// `tatami run BUNDLE`: a compiled bundle with whole tensors in and out.
#include "run_bundle_file.h"

#include <nlohmann/json.hpp>
#include <ostream>

#include "run_report.h"
#include "tatami/runtime/bundle.h"
#include "tatami/runtime/hdf5_io.h"
#include "tatami/runtime/results.h"
#include "tatami/runtime/timing_variant.h"
#include "tatami/arch/config_files.h"

namespace tatami::cli {

/// `tatami run BUNDLE`: full tensors in (HDF5 arrays by name), every core's program, full
/// tensors out. Under the bundle's configuration, or a timing variant of it (--set on top of it,
/// or --config) that changes no parameter the programs depend on.
int runBundleFile(const std::string& path, const MachineOptions& machine, const po::variables_map& vm, const std::string& inputPath,
                  const std::string& outputPath, std::ostream& out, std::ostream& err) {
  runtime::Bundle bundle;
  try {
    bundle = runtime::readBundle(path);
  } catch (const runtime::BundleError& e) {
    err << "tatami run: " << e.what() << "\n";
    return kExitBadInput;
  }
  ArchConfig compiled;
  applyIni(compiled, bundle.configIni, path + " (its configuration)");
  validate(compiled);
  // A timing variant: --set on top of the bundle's configuration (or --config, whole); only
  // parameters the programs do not depend on may differ.
  ArchConfig config = compiled;
  std::vector<runtime::ChangedParam> changed;
  if (!machine.configFile.empty() || !machine.overrides.empty()) {
    try {
      if (!machine.configFile.empty()) {
        config = machine.resolve();
      } else {
        for (const auto& o : machine.overrides) applyOverride(config, o);
        validate(config);
      }
      changed = runtime::timingVariant(compiled, config);
    } catch (const ConfigError& e) {
      err << "tatami run: " << e.what() << "\n";
      return kExitBadInput;
    } catch (const runtime::BundleError& e) {
      err << "tatami run: " << path << ": " << e.what() << "\n";
      return kExitBadInput;
    }
  }
  std::vector<runtime::NamedArray> feeds;
  try {
    if (!inputPath.empty()) feeds = runtime::readArrays(inputPath);
  } catch (const std::runtime_error& e) {
    err << "tatami run: " << e.what() << "\n";
    return kExitBadInput;
  }
  runtime::RunOptions options;
  options.timingOnly = vm.count("timing-only") > 0;
  options.rtlCheck = vm.count("rtl-check") > 0;
  runtime::BundleRun result;
  try {
    result = runtime::runBundle(config, bundle, feeds, options);
  } catch (const std::runtime_error& e) {
    err << "tatami run: " << path << ": " << e.what() << "\n";
    return kExitBadInput;
  }
  auto summary = runJson(config, result.run, options.timingOnly);
  summary["bundle"] = path;
  nlohmann::ordered_json fed = nlohmann::ordered_json::array();
  for (const auto& f : feeds) fed.push_back(f.name);
  summary["fed"] = fed;
  if (!changed.empty()) {
    nlohmann::ordered_json variant = nlohmann::ordered_json::object();
    for (const auto& c : changed) variant[c.key] = {{"compiled", c.compiled}, {"now", c.now}};
    summary["timing_variant"] = variant;
  }
  if (!outputPath.empty()) {
    // Simulated figures in the summary; the host time apart (host/seconds), so that the same run
    // writes the same bytes otherwise.
    nlohmann::ordered_json simulated = summary;
    simulated.erase("host_seconds");
    std::vector<runtime::NamedArray> arrays = result.outputs;
    arrays.push_back({"host/seconds", {1}, {result.run.hostSeconds}});
    runtime::writeArrays(outputPath, arrays, {{"config", bundle.configIni}, {"bundle", path}, {"summary", simulated.dump()}});
  }
  if (vm.count("json")) {
    out << summary.dump(2) << "\n";
  } else {
    out << "bundle " << path << ": " << bundle.model << " (" << bundle.step << ")\n";
    for (const auto& c : changed) out << "  timing variant: " << c.key << " = " << c.now << " (compiled with " << c.compiled << ")\n";
    printRunText(config, result.run, options.timingOnly, out);
    for (const auto& o : result.outputs)
      if (o.data.size() == 1) out << "  " << o.name << " = " << o.data[0] << "\n";
  }
  if (!result.run.error.empty()) {
    err << "tatami run: " << result.run.error << "\n";
    return kExitRunFailed;
  }
  return kExitOk;
}

}  // namespace tatami::cli
