// libFuzzer target: INI configuration text applied over the D1 defaults and validated. A
// ConfigError is the expected answer to bad input; anything else is a finding.
#include <cstdint>
#include <string>

#include "tatami/arch/config_files.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    tatami::ArchConfig c;
    tatami::applyIni(c, std::string(reinterpret_cast<const char*>(data), size), "fuzz.ini");
    tatami::validate(c);
  } catch (const tatami::ConfigError&) {
  }
  return 0;
}
