// Internal: the option texts of `tatami run`.
#pragma once

#include <string>

#include "command.h"
#include "tatami/runtime/run.h"

namespace tatami::cli {

/// --dump NAME=ADDR:TYPE:SHAPE, e.g. C=0x40000:f32:256x256. Throws UsageError.
runtime::SramImage parseDump(const std::string& spec);

/// --core ID=FILE: the core id (a number or "(row,col)"). Throws UsageError.
int coreOf(const std::string& spec, const ArchConfig& config);

/// --waves-window FROM:TO into the options. Throws UsageError.
void setWavesWindow(const std::string& window, runtime::RunOptions& options);

}  // namespace tatami::cli
