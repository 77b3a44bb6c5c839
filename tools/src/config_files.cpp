// INI presets and --set overrides. Boost.Program_options splits the INI into section.key/value
// pairs; arch/ decides whether each key exists and each value is allowed.
#include "tatami/tools/config_files.h"

#include <boost/program_options/errors.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <fstream>
#include <set>
#include <sstream>

namespace po = boost::program_options;

namespace tatami::cli {

namespace {

/// The 1-based line of `text` that contains `fragment`, or 0.
int lineOf(const std::string& text, const std::string& fragment) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (!fragment.empty() && line.find(fragment) != std::string::npos) return n;
  return 0;
}

/// The 1-based line that assigns `section.key` in an INI text, or 0.
int lineOfKey(const std::string& text, const std::string& dottedKey) {
  const auto dot = dottedKey.find('.');
  const std::string section = dot == std::string::npos ? "" : dottedKey.substr(0, dot);
  const std::string key = dot == std::string::npos ? dottedKey : dottedKey.substr(dot + 1);
  std::istringstream in(text);
  std::string line, current;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    if (line[b] == '[') {
      const auto e = line.find(']', b);
      current = line.substr(b + 1, e == std::string::npos ? std::string::npos : e - b - 1);
      continue;
    }
    if (current == section && line.compare(b, key.size(), key) == 0) {
      const auto after = line.find_first_not_of(" \t", b + key.size());
      if (after != std::string::npos && line[after] == '=') return n;
    }
  }
  return 0;
}

std::string at(const std::string& origin, int line) {
  return line > 0 ? origin + ":" + std::to_string(line) : origin;
}

}  // namespace

void applyIni(ArchConfig& config, const std::string& iniText, const std::string& origin) {
  std::istringstream in(iniText);
  po::options_description none;
  po::parsed_options parsed(&none);
  try {
    parsed = po::parse_config_file(in, none, /*allow_unregistered=*/true);
  } catch (const po::error& e) {
    // Boost reports the offending line's text but not its number: find it.
    std::string msg = e.what();
    std::string bad;
    const auto q1 = msg.find('\'');
    const auto q2 = msg.rfind('\'');
    if (q1 != std::string::npos && q2 > q1) bad = msg.substr(q1 + 1, q2 - q1 - 1);
    throw ConfigError(at(origin, lineOf(iniText, bad)) + ": " + msg +
                      " (expected 'key = value' lines under [section] headers)");
  }
  std::set<std::string> seen;
  for (const auto& opt : parsed.options) {
    const std::string value = opt.value.empty() ? "" : opt.value.front();
    const std::string where = at(origin, lineOfKey(iniText, opt.string_key));
    if (!seen.insert(opt.string_key).second)
      throw ConfigError(where + ": parameter '" + opt.string_key + "' is set twice in this file");
    setParam(config, opt.string_key, value, where);
  }
}

void applyIniFile(ArchConfig& config, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  applyIni(config, text.str(), path);
}

void applyOverride(ArchConfig& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set '" + assignment + "': expected section.key=value (e.g. core.sram_kib=2048)");
  std::string key = assignment.substr(0, eq);
  while (!key.empty() && key.back() == ' ') key.pop_back();
  setParam(config, key, assignment.substr(eq + 1), "--set " + assignment);
}

ArchConfig resolveConfig(const std::string& configFile, const std::vector<std::string>& overrides) {
  ArchConfig config;
  if (!configFile.empty()) applyIniFile(config, configFile);
  for (const auto& o : overrides) applyOverride(config, o);
  validate(config);
  return config;
}

}  // namespace tatami::cli
