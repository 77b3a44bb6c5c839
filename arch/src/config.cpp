// Parsing, printing and validation of architecture parameters, driven by params.def.
#include "tatami/arch/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

namespace tatami {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string describeRange(const ParamSpec& p) {
  std::ostringstream os;
  if (p.kind == ParamKind::Int) {
    os << "an integer in [" << static_cast<long long>(p.minValue) << ", "
       << static_cast<long long>(p.maxValue) << "]";
  } else if (p.kind == ParamKind::Real) {
    os << "a number in [" << p.minValue << ", " << p.maxValue << "]";
  } else if (p.kind == ParamKind::Choice) {
    std::string c = p.choices;
    std::replace(c.begin(), c.end(), '|', ',');
    os << "one of {" << c << "}";
  } else {
    os << "a list of (row,col) positions";
  }
  if (p.unit[0] != '\0' && p.kind != ParamKind::Choice && p.kind != ParamKind::Coords) os << " " << p.unit;
  return os.str();
}

[[noreturn]] void badValue(const ParamSpec& p, const std::string& value, const std::string& origin,
                           const std::string& why) {
  throw ConfigError(origin + ": " + p.key() + " = '" + value + "' " + why + "; allowed: " +
                    describeRange(p));
}

using ValueRef = std::variant<std::int64_t*, double*, std::string*, GridPosList*>;
using RefFn = ValueRef (*)(ArchConfig&);

struct Entry {
  ParamSpec spec;
  RefFn ref;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
#define TATAMI_SECTION_BEGIN(section, Type, desc)
#define TATAMI_SECTION_END(section)
#define TATAMI_INT(section, name, unit, def, lo, hi, desc)                                         \
  {{#section, #name, ParamKind::Int, unit, #def, double(lo), double(hi), "", desc},                \
   [](ArchConfig& c) -> ValueRef { return &c.section.name; }},
#define TATAMI_REAL(section, name, unit, def, lo, hi, desc)                                        \
  {{#section, #name, ParamKind::Real, unit, #def, double(lo), double(hi), "", desc},               \
   [](ArchConfig& c) -> ValueRef { return &c.section.name; }},
#define TATAMI_CHOICE(section, name, def, choices, desc)                                           \
  {{#section, #name, ParamKind::Choice, "", def, 0.0, 0.0, choices, desc},                         \
   [](ArchConfig& c) -> ValueRef { return &c.section.name; }},
#define TATAMI_COORDS(section, name, def, valid, desc)                                             \
  {{#section, #name, ParamKind::Coords, "(row,col)", def, 0.0, 0.0, valid, desc},                  \
   [](ArchConfig& c) -> ValueRef { return &c.section.name; }},
#include "tatami/arch/params.def"
#undef TATAMI_SECTION_BEGIN
#undef TATAMI_INT
#undef TATAMI_REAL
#undef TATAMI_CHOICE
#undef TATAMI_COORDS
#undef TATAMI_SECTION_END
  };
  return table;
}

const Entry* findEntry(const std::string& key) {
  for (const auto& e : entries())
    if (e.spec.key() == key) return &e;
  return nullptr;
}

std::string formatReal(double v) {
  // Whole numbers as whole numbers (2000, not 2e+03).
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream os;
  os.precision(17);
  os << v;
  // Shortest form that reads back exactly.
  for (int prec = 1; prec <= 17; ++prec) {
    std::ostringstream t;
    t.precision(prec);
    t << v;
    if (std::strtod(t.str().c_str(), nullptr) == v) return t.str();
  }
  return os.str();
}

}  // namespace

GridPosList parseGridPosList(const std::string& text) {
  GridPosList out;
  std::size_t i = 0;
  const auto skipSep = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == ',')) ++i;
  };
  const auto readInt = [&](int& v) {
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t start = i;
    if (i < text.size() && text[i] == '-') ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (start == i || (i == start + 1 && text[start] == '-'))
      throw ConfigError("expected an integer at character " + std::to_string(start + 1));
    if (i - start > 9) throw ConfigError("the integer at character " + std::to_string(start + 1) + " has too many digits");
    v = std::stoi(text.substr(start, i - start));
    while (i < text.size() && text[i] == ' ') ++i;
  };
  skipSep();
  while (i < text.size()) {
    if (text[i] != '(') throw ConfigError("expected '(' at character " + std::to_string(i + 1));
    ++i;
    GridPos p;
    readInt(p.row);
    if (i >= text.size() || text[i] != ',')
      throw ConfigError("expected ',' at character " + std::to_string(i + 1));
    ++i;
    readInt(p.col);
    if (i >= text.size() || text[i] != ')')
      throw ConfigError("expected ')' at character " + std::to_string(i + 1));
    ++i;
    out.push_back(p);
    skipSep();
  }
  return out;
}

std::string formatGridPosList(const GridPosList& list) {
  std::string s;
  for (const auto& p : list) {
    if (!s.empty()) s += ' ';
    s += "(" + std::to_string(p.row) + "," + std::to_string(p.col) + ")";
  }
  return s;
}

const std::vector<ParamSpec>& paramSpecs() {
  static const std::vector<ParamSpec> specs = [] {
    std::vector<ParamSpec> v;
    for (const auto& e : entries()) v.push_back(e.spec);
    return v;
  }();
  return specs;
}

const std::vector<SectionSpec>& sectionSpecs() {
  static const std::vector<SectionSpec> sections = {
#define TATAMI_SECTION_BEGIN(section, Type, desc) {#section, desc},
#define TATAMI_SECTION_END(section)
#define TATAMI_INT(...)
#define TATAMI_REAL(...)
#define TATAMI_CHOICE(...)
#define TATAMI_COORDS(...)
#include "tatami/arch/params.def"
#undef TATAMI_SECTION_BEGIN
#undef TATAMI_INT
#undef TATAMI_REAL
#undef TATAMI_CHOICE
#undef TATAMI_COORDS
#undef TATAMI_SECTION_END
  };
  return sections;
}

const ParamSpec* findParam(const std::string& key) {
  const Entry* e = findEntry(key);
  return e ? &e->spec : nullptr;
}

void setParam(ArchConfig& config, const std::string& key, const std::string& rawValue,
              const std::string& origin) {
  const Entry* e = findEntry(key);
  if (!e) {
    std::string known;
    const auto dot = key.find('.');
    const std::string section = dot == std::string::npos ? "" : key.substr(0, dot);
    for (const auto& p : paramSpecs())
      if (section == p.section) known += (known.empty() ? "" : ", ") + p.key();
    std::string msg = origin + ": unknown parameter '" + key + "'";
    if (!known.empty()) msg += "; parameters of [" + section + "]: " + known;
    else msg += "; sections: core, die, tile, dip, system, sim (see `tatami info --describe`)";
    throw ConfigError(msg);
  }
  const ParamSpec& p = e->spec;
  const std::string value = trim(rawValue);
  ValueRef ref = e->ref(config);
  switch (p.kind) {
    case ParamKind::Int: {
      errno = 0;
      char* end = nullptr;
      const long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE) badValue(p, value, origin, "is not an integer");
      if (v < p.minValue || v > p.maxValue) badValue(p, value, origin, "is out of range");
      *std::get<std::int64_t*>(ref) = v;
      break;
    }
    case ParamKind::Real: {
      errno = 0;
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
        badValue(p, value, origin, "is not a number");
      if (v < p.minValue || v > p.maxValue) badValue(p, value, origin, "is out of range");
      *std::get<double*>(ref) = v;
      break;
    }
    case ParamKind::Choice: {
      std::stringstream ss(p.choices);
      std::string c;
      bool ok = false;
      while (std::getline(ss, c, '|')) ok = ok || c == value;
      if (!ok) badValue(p, value, origin, "is not a valid choice");
      *std::get<std::string*>(ref) = value;
      break;
    }
    case ParamKind::Coords: {
      try {
        *std::get<GridPosList*>(ref) = parseGridPosList(value);
      } catch (const ConfigError& err) {
        badValue(p, value, origin, std::string("is malformed (") + err.what() + ")");
      }
      break;
    }
  }
}

std::string paramText(const ArchConfig& config, const std::string& key) {
  const Entry* e = findEntry(key);
  if (!e) throw ConfigError("unknown parameter '" + key + "'");
  ValueRef ref = e->ref(const_cast<ArchConfig&>(config));
  switch (e->spec.kind) {
    case ParamKind::Int: return std::to_string(*std::get<std::int64_t*>(ref));
    case ParamKind::Real: return formatReal(*std::get<double*>(ref));
    case ParamKind::Choice: return *std::get<std::string*>(ref);
    case ParamKind::Coords: return formatGridPosList(*std::get<GridPosList*>(ref));
  }
  return "";
}

void validate(const ArchConfig& c) {
  std::set<GridPos> seen;
  for (const auto& p : c.die.disabled_cores) {
    const std::string where = "die.disabled_cores: (" + std::to_string(p.row) + "," + std::to_string(p.col) + ")";
    if (p.row < 0 || p.row >= c.die.rows || p.col < 0 || p.col >= c.die.cols)
      throw ConfigError(where + " lies outside the " + std::to_string(c.die.rows) + " x " +
                        std::to_string(c.die.cols) + " grid (die.rows x die.cols); rows 0.." +
                        std::to_string(c.die.rows - 1) + ", columns 0.." + std::to_string(c.die.cols - 1));
    if (!seen.insert(p).second) throw ConfigError(where + " is listed twice");
  }
  if (static_cast<std::int64_t>(seen.size()) >= c.die.rows * c.die.cols)
    throw ConfigError("die.disabled_cores disables all " + std::to_string(c.die.rows * c.die.cols) +
                      " positions of the grid; at least one core must be active");
  const auto& dl = c.die.dead_links;
  if (dl.size() % 2)
    throw ConfigError("die.dead_links: " + std::to_string(dl.size()) +
                      " positions listed; links are pairs of adjacent positions, so the count must be even");
  const std::int64_t sysRows = c.die.rows * c.system.die_rows, sysCols = c.die.cols * c.system.die_cols;
  std::set<std::pair<GridPos, GridPos>> links;
  for (std::size_t i = 0; i < dl.size(); i += 2) {
    const GridPos a = dl[i], b = dl[i + 1];
    const std::string link = "die.dead_links: (" + std::to_string(a.row) + "," + std::to_string(a.col) + ")-(" +
                             std::to_string(b.row) + "," + std::to_string(b.col) + ")";
    for (const GridPos& p : {a, b})
      if (p.row < 0 || p.row >= sysRows || p.col < 0 || p.col >= sysCols)
        throw ConfigError(link + " lies outside the system's " + std::to_string(sysRows) + " x " +
                          std::to_string(sysCols) + " grid of positions");
    if (std::abs(a.row - b.row) + std::abs(a.col - b.col) != 1)
      throw ConfigError(link + " does not join two adjacent positions");
    if (!links.insert(std::minmax(a, b)).second) throw ConfigError(link + " is listed twice");
  }
  std::set<GridPos> rtl;
  for (const auto& p : c.sim.rtl_listed) {
    const std::string where = "sim.rtl_listed: (" + std::to_string(p.row) + "," + std::to_string(p.col) + ")";
    if (p.row < 0 || p.row >= sysRows || p.col < 0 || p.col >= sysCols)
      throw ConfigError(where + " lies outside the system's " + std::to_string(sysRows) + " x " + std::to_string(sysCols) +
                        " grid of positions");
    if (!rtl.insert(p).second) throw ConfigError(where + " is listed twice");
  }
  if (c.core.sram_kib * 1024 % c.core.sram_port_bytes != 0)
    throw ConfigError("core.sram_kib = " + std::to_string(c.core.sram_kib) +
                      " is not a whole number of core.sram_port_bytes (" +
                      std::to_string(c.core.sram_port_bytes) + ") rows");
}

std::string toIni(const ArchConfig& config) {
  std::ostringstream os;
  std::string section;
  for (const auto& p : paramSpecs()) {
    if (section != p.section) {
      section = p.section;
      for (const auto& s : sectionSpecs())
        if (section == s.name) os << (os.tellp() > 0 ? "\n" : "") << "# " << s.description << "\n";
      os << "[" << section << "]\n";
    }
    os << "# " << p.description;
    if (p.unit[0] && p.kind != ParamKind::Coords) os << " Unit: " << p.unit << ".";
    os << "\n" << p.name << " = " << paramText(config, p.key()) << "\n";
  }
  return os.str();
}

double edgeBytesPerCycle(const ArchConfig& c) { return c.die.edge_gb_per_s / c.core.clock_ghz; }
std::int64_t dipCount(const ArchConfig& c) {
  const std::int64_t tiles = (c.system.die_rows / c.tile.die_rows) * (c.system.die_cols / c.tile.die_cols);
  return tiles > 0 ? tiles * c.dip.per_tile : c.dip.edge_sources;
}

double hbmBytesPerCycle(const ArchConfig& c) { return c.dip.hbm_gb_per_s / c.core.clock_ghz; }
double dipLinkBytesPerCycle(const ArchConfig& c) { return c.dip.link_gb_per_s / c.core.clock_ghz; }
double hostLinkBytesPerCycle(const ArchConfig& c) { return c.dip.host_gb_per_s / c.core.clock_ghz; }
int dieOfCore(const ArchConfig& c, int core) {
  const std::int64_t cols = c.die.cols * c.system.die_cols;
  return int((core / cols) / c.die.rows * c.system.die_cols + (core % cols) / c.die.cols);
}
std::string dieName(const ArchConfig& c, int die) {
  return "(" + std::to_string(die / c.system.die_cols) + "," + std::to_string(die % c.system.die_cols) + ")";
}
std::int64_t d2dLatencyCycles(const ArchConfig& c) { return std::max<std::int64_t>(1, std::llround(c.die.d2d_latency_ns * c.core.clock_ghz)); }
double tileEdgeBytesPerCycle(const ArchConfig& c) { return c.tile.edge_gb_per_s / c.core.clock_ghz; }
std::int64_t tileLatencyCycles(const ArchConfig& c) { return std::max<std::int64_t>(1, std::llround(c.tile.edge_latency_ns * c.core.clock_ghz)); }

Crossing dieCrossing(const ArchConfig& c, GridPos a, GridPos b) {
  Crossing x;
  const bool eastWest = a.row == b.row;
  x.betweenTiles = eastWest ? a.col / c.tile.die_cols != b.col / c.tile.die_cols : a.row / c.tile.die_rows != b.row / c.tile.die_rows;
  // The links that share an edge: a die edge has one per row (east, west) or column of the die.
  const double dieLinks = double(eastWest ? c.die.rows : c.die.cols);
  x.linkBytesPerCycle = edgeBytesPerCycle(c) / dieLinks;
  x.latencyCycles = d2dLatencyCycles(c);
  if (x.betweenTiles) {
    const double tileLinks = dieLinks * double(eastWest ? c.tile.die_rows : c.tile.die_cols);
    x.linkBytesPerCycle = std::min(x.linkBytesPerCycle, tileEdgeBytesPerCycle(c) / tileLinks);
    x.latencyCycles = tileLatencyCycles(c);
  }
  return x;
}

std::int64_t hbmLatencyCycles(const ArchConfig& c) { return std::llround(c.dip.hbm_latency_ns * c.core.clock_ghz); }

}  // namespace tatami
