// The option texts of `tatami run`: --dump regions, --core programs, --waves-window.
#include "run_options.h"

#include "tatami/arch/config.h"

namespace tatami::cli {

namespace {


DType parseType(const std::string& s, const std::string& where) {
  for (DType t : {DType::F32, DType::Bf16, DType::E4m3, DType::E5m2, DType::I32})
    if (s == dtypeName(t)) return t;
  throw UsageError(where + ": unknown type '" + s + "' (f32, bf16, e4m3, e5m2, i32)");
}

}  // namespace

runtime::SramImage parseDump(const std::string& spec) {
  const std::string where = "--dump " + spec;
  const auto eq = spec.find('=');
  const auto c1 = spec.find(':', eq == std::string::npos ? 0 : eq);
  const auto c2 = c1 == std::string::npos ? c1 : spec.find(':', c1 + 1);
  if (eq == std::string::npos || c1 == std::string::npos || c2 == std::string::npos)
    throw UsageError(where + ": expected NAME=ADDR:TYPE:SHAPE, e.g. C=0x40000:f32:256x256");
  runtime::SramImage img;
  img.name = spec.substr(0, eq);
  try {
    img.addr = std::stoull(spec.substr(eq + 1, c1 - eq - 1), nullptr, 0);
    img.type = parseType(spec.substr(c1 + 1, c2 - c1 - 1), where);
    std::string shape = spec.substr(c2 + 1);
    std::size_t pos = 0;
    while (pos <= shape.size()) {
      const auto x = shape.find('x', pos);
      img.shape.push_back(std::stoull(shape.substr(pos, x - pos)));
      if (x == std::string::npos) break;
      pos = x + 1;
    }
  } catch (const std::logic_error&) {
    throw UsageError(where + ": malformed address or shape");
  }
  return img;
}

/// --core ID=FILE: the core id (a number or "(row,col)").
int coreOf(const std::string& spec, const ArchConfig& config) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) throw UsageError("--core '" + spec + "': expected ID=FILE, e.g. 5=b.tasm or (0,5)=b.tasm");
  const std::string id = spec.substr(0, eq);
  try {
    if (!id.empty() && id[0] == '(') {
      const GridPosList p = parseGridPosList(id);
      if (p.size() != 1) throw ConfigError("");
      return p[0].row * int(config.die.cols * config.system.die_cols) + p[0].col;
    }
    return std::stoi(id);
  } catch (const std::exception&) {
    throw UsageError("--core '" + spec + "': '" + id + "' is not a core id or (row,col)");
  }
}

/// --waves-window FROM:TO.
void setWavesWindow(const std::string& window, runtime::RunOptions& options) {
  const auto colon = window.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument("");
    options.rtlWavesFrom = std::stoull(window.substr(0, colon));
    options.rtlWavesTo = std::stoull(window.substr(colon + 1));
  } catch (const std::exception&) {
    throw UsageError("--waves-window '" + window + "': expected FROM:TO, e.g. 0:2000");
  }
  if (options.rtlWavesTo <= options.rtlWavesFrom) throw UsageError("--waves-window '" + window + "': TO must be above FROM");
}

}  // namespace tatami::cli
