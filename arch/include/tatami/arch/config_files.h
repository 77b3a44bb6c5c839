// Reading architecture configs, beside their writing (toIni in config.h): INI presets and
// `section.key=value` overrides, applied in that order over the built-in D1 defaults. The INI
// reader takes what toIni writes: `[section]` headers, `key = value` lines, `#` or `;` comments.
#pragma once

#include <string>
#include <vector>

#include "tatami/arch/config.h"

namespace tatami {

/// Applies every `key = value` of an INI text to `config`. `origin` names the file in errors.
/// Throws ConfigError naming the file and line of a malformed line, an unknown key, a key set
/// twice or a bad value.
void applyIni(ArchConfig& config, const std::string& iniText, const std::string& origin);

/// Reads and applies an INI file. Throws ConfigError if it cannot be read.
void applyIniFile(ArchConfig& config, const std::string& path);

/// Applies one `section.key=value` override; errors name it as given with `flag`.
void applyOverride(ArchConfig& config, const std::string& assignment, const std::string& flag = "--set");

/// Defaults, then `configFile` (if not empty), then each override; validated.
ArchConfig resolveConfig(const std::string& configFile, const std::vector<std::string>& overrides);

}  // namespace tatami
