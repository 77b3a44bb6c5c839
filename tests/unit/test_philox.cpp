// Philox4x32-10 against the known-answer vectors published with Random123.
#include <doctest/doctest.h>

#include "tatami/arch/philox.h"

using namespace tatami;

TEST_CASE("Philox4x32-10 known-answer vectors") {
  CHECK(philox4x32({0, 0, 0, 0}, {0, 0}) == PhiloxCounter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}) ==
        PhiloxCounter{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
        PhiloxCounter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("rounding bits depend on seed, tensor and element only") {
  CHECK(roundingBits(1, 2, 3) == roundingBits(1, 2, 3));
  CHECK(roundingBits(1, 2, 3) == philox4x32({0, 0, 2, 0}, {1, 0})[3]);
  CHECK(roundingBits(1, 2, 4) == philox4x32({1, 0, 2, 0}, {1, 0})[0]);
  CHECK(roundingBits(1, 2, 3) != roundingBits(1, 3, 3));
  CHECK(roundingBits(1, 2, 3) != roundingBits(2, 2, 3));
}
