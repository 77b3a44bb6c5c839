// The architecture configuration: a typed struct generated from params.def, the table that
// describes each parameter, and the textual parsing and validation every front end shares.
// Reading INI files is left to the command-line tool; this header needs only the standard library.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace tatami {

/// A core position in a die's grid, counted from 0 at the top-left.
struct GridPos {
  int row = 0;
  int col = 0;
  bool operator==(const GridPos& o) const { return row == o.row && col == o.col; }
  bool operator<(const GridPos& o) const { return row != o.row ? row < o.row : col < o.col; }
};
using GridPosList = std::vector<GridPos>;

/// Parses "(r,c) (r,c) ..." (commas or spaces between pairs); throws ConfigError text on failure.
GridPosList parseGridPosList(const std::string& text);
std::string formatGridPosList(const GridPosList& list);

#define TATAMI_SECTION_BEGIN(section, Type, desc) struct Type {
#define TATAMI_INT(section, name, unit, def, lo, hi, desc) std::int64_t name = def;
#define TATAMI_REAL(section, name, unit, def, lo, hi, desc) double name = def;
#define TATAMI_CHOICE(section, name, def, choices, desc) std::string name = def;
#define TATAMI_COORDS(section, name, def, valid, desc) GridPosList name = parseGridPosList(def);
#define TATAMI_SECTION_END(section) } section;

/// Every architecture parameter, with the D1 preset as defaults.
struct ArchConfig {
#include "tatami/arch/params.def"
};

#undef TATAMI_SECTION_BEGIN
#undef TATAMI_INT
#undef TATAMI_REAL
#undef TATAMI_CHOICE
#undef TATAMI_COORDS
#undef TATAMI_SECTION_END

/// A bad key, value or combination of values; the message names the key, the value and what is
/// allowed. Front ends map it to exit code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ParamKind { Int, Real, Choice, Coords };

/// The declaration of one parameter, as written in params.def.
struct ParamSpec {
  const char* section;
  const char* name;
  ParamKind kind;
  const char* unit;          // "" when unitless
  const char* defaultText;   // the default as written in an INI file
  double minValue;           // Int and Real only
  double maxValue;
  const char* choices;       // Choice: "a|b"; Coords: which lists are valid
  const char* description;
  std::string key() const { return std::string(section) + "." + name; }
};

struct SectionSpec {
  const char* name;
  const char* description;
};

/// All parameters in declaration order.
const std::vector<ParamSpec>& paramSpecs();
/// All sections in declaration order.
const std::vector<SectionSpec>& sectionSpecs();
/// The spec for "section.name", or nullptr.
const ParamSpec* findParam(const std::string& key);

/// Sets one parameter from text. `origin` says where the text came from ("--set",
/// "configs/d1.ini") and appears in error messages. Throws ConfigError.
void setParam(ArchConfig& config, const std::string& key, const std::string& value,
              const std::string& origin);
/// The current value of one parameter as INI text.
std::string paramText(const ArchConfig& config, const std::string& key);

/// Checks relations between parameters (disabled cores inside the grid, at least one active
/// core, ...). Throws ConfigError naming the parameter.
void validate(const ArchConfig& config);

/// The whole resolved config as an INI file, every parameter with its description.
std::string toIni(const ArchConfig& config);

/// What lives outside the core's clock domain is set in physical units (GB/s, ns); these give it
/// in the core's cycles at core.clock_ghz, so raising the clock does not make memory faster.
double edgeBytesPerCycle(const ArchConfig& c);     ///< die.edge_gb_per_s / core.clock_ghz
double hbmBytesPerCycle(const ArchConfig& c);      ///< dip.hbm_gb_per_s / core.clock_ghz
double dipLinkBytesPerCycle(const ArchConfig& c);  ///< dip.link_gb_per_s / core.clock_ghz
double hostLinkBytesPerCycle(const ArchConfig& c);  ///< dip.host_gb_per_s / core.clock_ghz (0: no limit)
std::int64_t d2dLatencyCycles(const ArchConfig& c);  ///< die.d2d_latency_ns x core.clock_ghz, rounded
double tileEdgeBytesPerCycle(const ArchConfig& c);  ///< tile.edge_gb_per_s / core.clock_ghz
std::int64_t tileLatencyCycles(const ArchConfig& c);  ///< tile.edge_latency_ns x core.clock_ghz, rounded

/// One crossing between the dies (system-wide row and column) `a` and `b`, which are neighbours:
/// whether it leaves a training tile, its latency in cycles, and the bandwidth of one mesh link
/// across it in bytes per cycle (its share of the die edge, or of the tile edge when that is less).
struct Crossing {
  bool betweenTiles = false;
  std::int64_t latencyCycles = 0;
  double linkBytesPerCycle = 0;
};
Crossing dieCrossing(const ArchConfig& c, GridPos a, GridPos b);
std::int64_t hbmLatencyCycles(const ArchConfig& c);  ///< dip.hbm_latency_ns x core.clock_ghz, rounded

/// The interface processors of the system: dip.per_tile for each whole training tile, or, in a
/// system smaller than a tile, dip.edge_sources on its west edge.
std::int64_t dipCount(const ArchConfig& c);

/// The die (row-major over system.die_rows x system.die_cols) that holds core `core`, a system-wide
/// id counted row-major over every die's grid positions.
int dieOfCore(const ArchConfig& c, int core);
/// "(r,c)": a die's position in the system.
std::string dieName(const ArchConfig& c, int die);

}  // namespace tatami
