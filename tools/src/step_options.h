// Internal: the options that say which training step to build and where it runs (model, batch,
// loss, optimizer, precision, slice, grid). `train`, `check` and `compile` take this one set,
// with one set of defaults: those of driver::CompileRequest.
#pragma once

#include "command.h"
#include "tatami/driver/step.h"

namespace tatami::cli {

/// Adds the step options to `desc`, writing into `r` (its values are the defaults shown).
void addStepOptions(po::options_description& desc, driver::CompileRequest& r);

/// Checks the names given (loss, optimizer, precision); throws UsageError naming the option.
void checkStepOptions(const driver::CompileRequest& r);

}  // namespace tatami::cli
