// The parameter table: defaults (the D1 preset), derived figures, parsing and validation.
#include <doctest/doctest.h>

#include <set>

#include "tatami/arch/config.h"
#include "tatami/arch/figures.h"

using namespace tatami;

TEST_CASE("the D1 preset's derived figures") {
  const ArchConfig c;
  validate(c);
  const MachineFigures f = computeFigures(c);
  CHECK(f.gridPositionsPerDie == 360);
  CHECK(f.activeCoresPerDie == 354);
  CHECK(f.activeCoresPerTile == 8850);
  CHECK(f.peakBf16TflopsPerCore == 1.024);
  CHECK(f.peakFp32TflopsPerCore == 0.064);
  CHECK(f.peakBf16TflopsPerDie == 362.496);
  CHECK(f.peakFp32TflopsPerDie == 22.656);
  CHECK(f.peakBf16PflopsPerTile == 9.0624);
  CHECK(f.sramKibPerCore == 1280);
  CHECK(f.sramMibPerCore == 1.25);
  CHECK(f.sramMibPerDie == 442.5);
  CHECK(f.sramMibPerTile == 11062.5);
  CHECK(f.bisectionLinks == 18);
  CHECK(f.bisectionTbpsPerDirection == 2.304);
  CHECK(f.edgeTbpsPerDirection == 2.0);
}

TEST_CASE("figures follow the parameters") {
  ArchConfig c;
  setParam(c, "core.sram_kib", "2048", "test");
  setParam(c, "die.rows", "10", "test");
  setParam(c, "die.cols", "4", "test");
  setParam(c, "die.disabled_cores", "(0,0), (9,3)", "test");
  setParam(c, "die.link_bytes_per_cycle", "256", "test");
  validate(c);
  const MachineFigures f = computeFigures(c);
  CHECK(f.activeCoresPerDie == 38);
  CHECK(f.sramMibPerDie == 76.0);
  CHECK(f.bisectionLinks == 4);
  CHECK(f.bisectionTbpsPerDirection == 2.048);
}

TEST_CASE("every parameter is declared once and its default reads back") {
  const ArchConfig defaults;
  std::set<std::string> keys;
  for (const auto& p : paramSpecs()) {
    CHECK(keys.insert(p.key()).second);
    CHECK(std::string(p.description).size() > 10);
    ArchConfig c;
    setParam(c, p.key(), p.defaultText, "test");
    CHECK(paramText(c, p.key()) == paramText(defaults, p.key()));
  }
  CHECK(findParam("core.sram_kib") != nullptr);
  CHECK(findParam("core.nope") == nullptr);
}

TEST_CASE("bad values name the key, the value and what is allowed") {
  ArchConfig c;
  CHECK_THROWS_WITH_AS(setParam(c, "core.sram_kib", "16385", "--set"),
                       "--set: core.sram_kib = '16385' is out of range; allowed: an integer in [64, 16384] KiB",
                       ConfigError);
  CHECK_THROWS_WITH_AS(setParam(c, "core.sram_kib", "12k", "f.ini:3"),
                       "f.ini:3: core.sram_kib = '12k' is not an integer; allowed: an integer in [64, 16384] KiB",
                       ConfigError);
  CHECK_THROWS_WITH_AS(setParam(c, "core.clock_ghz", "fast", "x"),
                       "x: core.clock_ghz = 'fast' is not a number; allowed: a number in [0.001, 100] GHz",
                       ConfigError);
  CHECK_THROWS_WITH_AS(setParam(c, "die.routing", "adaptive", "x"),
                       "x: die.routing = 'adaptive' is not a valid choice; allowed: one of {xy,yx}", ConfigError);
  CHECK_THROWS_WITH_AS(setParam(c, "die.disabled_cores", "(1,2", "x"),
                       "x: die.disabled_cores = '(1,2' is malformed (expected ')' at character 5); allowed: a "
                       "list of (row,col) positions",
                       ConfigError);
  CHECK_THROWS_AS(setParam(c, "core.sram", "1", "x"), ConfigError);
  CHECK_THROWS_WITH(setParam(c, "cpu.sram_kib", "1", "x"),
                    doctest::Contains("unknown parameter 'cpu.sram_kib'"));
  CHECK(c.core.sram_kib == 1280);  // nothing was changed by the failed attempts
}

TEST_CASE("validation checks disabled cores against the grid") {
  ArchConfig c;
  setParam(c, "die.disabled_cores", "(17,19)", "x");
  validate(c);
  setParam(c, "die.rows", "17", "x");
  CHECK_THROWS_WITH_AS(validate(c),
                       "die.disabled_cores: (17,19) lies outside the 17 x 20 grid (die.rows x die.cols); rows "
                       "0..16, columns 0..19",
                       ConfigError);
  setParam(c, "die.rows", "2", "x");
  setParam(c, "die.cols", "1", "x");
  setParam(c, "die.disabled_cores", "(0,0) (0,0)", "x");
  CHECK_THROWS_WITH(validate(c), "die.disabled_cores: (0,0) is listed twice");
  setParam(c, "die.disabled_cores", "(0,0) (1,0)", "x");
  CHECK_THROWS_WITH(validate(c), doctest::Contains("at least one core must be active"));
  setParam(c, "die.disabled_cores", "", "x");
  validate(c);
}

TEST_CASE("toIni writes every parameter") {
  ArchConfig c;
  setParam(c, "core.clock_ghz", "2.5", "x");
  const std::string ini = toIni(c);
  for (const auto& p : paramSpecs()) CHECK(ini.find(std::string(p.name) + " = ") != std::string::npos);
  CHECK(ini.find("clock_ghz = 2.5\n") != std::string::npos);
  CHECK(ini.find("disabled_cores = (0,9) (4,2) (7,15) (10,6) (13,18) (17,11)\n") != std::string::npos);
}
