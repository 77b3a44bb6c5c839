// Model time: one core cycle is one kernel nanosecond; seconds come from the configured clock.
#include <doctest/doctest.h>

#include "tatami/tlm/clock.h"

using namespace tatami;

TEST_CASE("cycles map to kernel time and back, and to seconds at the clock") {
  CHECK(tlm::cyclesToTime(0) == sc_core::SC_ZERO_TIME);
  CHECK(tlm::cyclesToTime(200) == sc_core::sc_time(200, sc_core::SC_NS));
  CHECK(tlm::timeToCycles(tlm::cyclesToTime(123456789)) == 123456789);
  ArchConfig c;
  CHECK(tlm::cyclesToSeconds(c, 2000) == 1e-6);
  setParam(c, "core.clock_ghz", "1.5", "x");
  CHECK(tlm::cyclesToSeconds(c, 3) == doctest::Approx(2e-9));
}
