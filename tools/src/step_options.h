// Internal: the options that say which training step to build and where it runs (model, batch,
// loss, optimizer, precision, slice, grid). `train`, `check` and `compile` take this one set,
// with one set of defaults: those of driver::CompileRequest.
#pragma once

#include "command.h"
#include "tatami/driver/step.h"

namespace tatami::cli {

/// Adds the step options to `desc`, writing into `r` (its values are the defaults shown).
void addStepOptions(po::options_description& desc, driver::CompileRequest& r);

/// Sets one step option written `key = value` in a spec file (compile.ini of a regression case, a
/// sweep's workload): model, batch, loss, optimizer, lr, momentum, weight_decay, precision, slice,
/// grid. Returns false for another key; throws UsageError (prefixed by `where`) for a bad number.
bool setStepKey(driver::CompileRequest& r, const std::string& key, const std::string& value, const std::string& where);

/// Checks the names given (loss, optimizer, precision); throws UsageError naming the option.
void checkStepOptions(const driver::CompileRequest& r);

}  // namespace tatami::cli
