// Reading architecture configs for the command line: INI presets (Boost.Program_options) and
// `--set section.key=value` overrides, applied in that order over the built-in D1 defaults.
#pragma once

#include <string>
#include <vector>

#include "tatami/arch/config.h"

namespace tatami::cli {

/// Applies every `key = value` of an INI text to `config`. `origin` names the file in errors.
/// Throws ConfigError on a malformed line, an unknown key or a bad value.
void applyIni(ArchConfig& config, const std::string& iniText, const std::string& origin);

/// Reads and applies an INI file. Throws ConfigError if it cannot be read.
void applyIniFile(ArchConfig& config, const std::string& path);

/// Applies one `section.key=value` override.
void applyOverride(ArchConfig& config, const std::string& assignment);

/// Defaults, then `configFile` (if not empty), then each override; validated.
ArchConfig resolveConfig(const std::string& configFile, const std::vector<std::string>& overrides);

}  // namespace tatami::cli
