// INI presets and overrides: the lines are split here; config.cpp decides whether each key
// exists and each value is allowed.
#include "tatami/arch/config_files.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace tatami {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

void applyIni(ArchConfig& config, const std::string& iniText, const std::string& origin) {
  std::istringstream in(iniText);
  std::string raw, section;
  std::set<std::string> seen;
  for (int n = 1; std::getline(in, raw); ++n) {
    const std::string where = origin + ":" + std::to_string(n);
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']' || line.size() < 3) throw ConfigError(where + ": malformed section header '" + line + "' (expected [section])");
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos || trim(line.substr(0, eq)).empty())
      throw ConfigError(where + ": '" + line + "' is not a 'key = value' line (expected 'key = value' lines under [section] headers)");
    const std::string key = (section.empty() ? "" : section + ".") + trim(line.substr(0, eq));
    if (!seen.insert(key).second) throw ConfigError(where + ": parameter '" + key + "' is set twice in this file");
    setParam(config, key, trim(line.substr(eq + 1)), where);
  }
}

void applyIniFile(ArchConfig& config, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw ConfigError("config file '" + path + "' is not a regular file");
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  applyIni(config, text.str(), path);
}

void applyOverride(ArchConfig& config, const std::string& assignment, const std::string& flag) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(flag + " '" + assignment + "': expected section.key=value (e.g. core.sram_kib=2048)");
  setParam(config, trim(assignment.substr(0, eq)), assignment.substr(eq + 1), flag + " " + assignment);
}

ArchConfig resolveConfig(const std::string& configFile, const std::vector<std::string>& overrides) {
  ArchConfig config;
  if (!configFile.empty()) applyIniFile(config, configFile);
  for (const auto& o : overrides) applyOverride(config, o);
  validate(config);
  return config;
}

}  // namespace tatami
