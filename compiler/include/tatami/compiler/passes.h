// Every transformation of the IR by name, with its options: what `tatami opt`, the text-IR pass
// tests (tests/compiler/) and `--print-pipeline` see. The training pipeline of `tatami compile`
// is a list of these (driver/step.cpp); placement and lowering stages follow it per core.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tatami/compiler/pipeline.h"

namespace tatami::compiler {

using PassOptions = std::map<std::string, std::string>;

struct PassCatalogEntry {
  std::string name;
  std::string description;
  std::string options;  ///< the options it takes, e.g. "loss=xent|mse optimizer=sgd|adamw lr= momentum="
};

/// The graph passes that can be run by name, in pipeline order.
const std::vector<PassCatalogEntry>& passCatalog();

/// The pass `name` with `options` (key=value); throws CompileError for an unknown pass or option,
/// or an option value that does not read.
PassInfo passByName(const std::string& name, const PassOptions& options = {});

/// "name key=value key=value" -> the pass (a line of a pass test or a `tatami opt --pass`).
PassInfo parsePassSpec(const std::string& spec);

}  // namespace tatami::compiler
