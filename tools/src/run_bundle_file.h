// Internal: `tatami run BUNDLE`.
#pragma once

#include <iosfwd>
#include <string>

#include "command.h"

namespace tatami::cli {

/// `tatami run BUNDLE`: full tensors in (HDF5 arrays by name), every core's program, full
/// tensors out. The bundle's configuration is used; one given with --config/--set must equal it.
int runBundleFile(const std::string& path, const MachineOptions& machine, const po::variables_map& vm, const std::string& inputPath,
                  const std::string& outputPath, std::ostream& out, std::ostream& err);

}  // namespace tatami::cli
