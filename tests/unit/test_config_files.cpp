// INI presets and --set overrides as the command line reads them.
#include <doctest/doctest.h>

#include "tatami/arch/config_files.h"

using namespace tatami;

TEST_CASE("an INI preset sets parameters by section") {
  ArchConfig c;
  applyIni(c, "# comment\n[core]\nsram_kib = 2048\n\n[die]\nrows=4\ncols = 4\ndisabled_cores = (1,1)\n", "t.ini");
  CHECK(c.core.sram_kib == 2048);
  CHECK(c.die.rows == 4);
  CHECK(c.die.disabled_cores.size() == 1);
  validate(c);
}

TEST_CASE("a written preset reads back to the same config") {
  ArchConfig a;
  setParam(a, "die.routing", "yx", "x");
  setParam(a, "core.clock_ghz", "1.6", "x");
  setParam(a, "die.disabled_cores", "(3,4)", "x");
  ArchConfig b;
  applyIni(b, toIni(a), "roundtrip.ini");
  CHECK(toIni(a) == toIni(b));
}

TEST_CASE("INI errors name the file and line") {
  ArchConfig c;
  CHECK_THROWS_WITH_AS(applyIni(c, "[core]\nthreads = 2\nsram_kb = 10\n", "p.ini"),
                       doctest::Contains("p.ini:3: unknown parameter 'core.sram_kb'"), ConfigError);
  CHECK_THROWS_WITH_AS(applyIni(c, "[core]\nthreads = 2\nthis line is wrong\n", "p.ini"),
                       "p.ini:3: 'this line is wrong' is not a 'key = value' line (expected 'key = value' lines under [section] headers)",
                       ConfigError);
  CHECK_THROWS_WITH_AS(applyIni(c, "; a comment\n[core\nthreads = 2\n", "p.ini"),
                       "p.ini:2: malformed section header '[core' (expected [section])", ConfigError);
  CHECK_THROWS_WITH_AS(applyIni(c, "[core]\nthreads = 9\n", "p.ini"),
                       "p.ini:2: core.threads = '9' is out of range; allowed: an integer in [1, 4] threads",
                       ConfigError);
  CHECK_THROWS_WITH_AS(applyIni(c, "[core]\nthreads = 2\nthreads = 3\n", "p.ini"),
                       doctest::Contains("'core.threads' is set twice"), ConfigError);
  CHECK_THROWS_WITH_AS(applyIniFile(c, "/nonexistent/x.ini"), "cannot read config file '/nonexistent/x.ini'",
                       ConfigError);
  CHECK_THROWS_WITH_AS(applyIniFile(c, TATAMI_SOURCE_DIR "/configs"), "config file '" TATAMI_SOURCE_DIR "/configs' is not a regular file",
                       ConfigError);
}

TEST_CASE("--set overrides apply in order after the file") {
  const ArchConfig c = resolveConfig("", {"core.sram_kib=2048", "core.sram_kib = 1024", "die.routing=yx"});
  CHECK(c.core.sram_kib == 1024);
  CHECK(c.die.routing == "yx");
  CHECK_THROWS_WITH_AS(resolveConfig("", {"core.sram_kib"}),
                       "--set 'core.sram_kib': expected section.key=value (e.g. core.sram_kib=2048)", ConfigError);
  CHECK_THROWS_WITH_AS(resolveConfig("", {"die.rows=3"}), doctest::Contains("lies outside the 3 x 20 grid"),
                       ConfigError);
}
