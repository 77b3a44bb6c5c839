// libFuzzer target: the binary program decoder, and the encoder on what it accepts (encoding is
// stable: what it writes decodes and encodes to the same bytes; compared as bytes, so that NaN
// payloads in init blocks compare). A ProgramError is the expected answer to bad input.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tatami/arch/program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const std::vector<std::uint8_t> bytes(data, data + size);
    const tatami::Program p = tatami::decodeBinary(bytes, "fuzz.tbin");
    const std::vector<std::uint8_t> once = tatami::encodeBinary(p);
    if (tatami::encodeBinary(tatami::decodeBinary(once, "again")) != once) std::abort();
  } catch (const tatami::ProgramError&) {
  }
  return 0;
}
