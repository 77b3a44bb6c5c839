// libFuzzer target: a compiled bundle file read back (its config, programs, layouts and feeds).
// A std::runtime_error naming the file and the problem is the expected answer to bad input;
// anything else (a crash, a hang, std::bad_alloc, a logic_error) is a finding.
#include <cstdint>
#include <stdexcept>

#include "file_input.h"
#include "tatami/runtime/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = writeFuzzFile(data, size, ".bundle");
  try {
    tatami::runtime::readBundle(path);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
