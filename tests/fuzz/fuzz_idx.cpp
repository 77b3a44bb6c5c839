// libFuzzer target: an IDX file (plain or gzip) as the Fashion-MNIST loader reads it. A
// std::runtime_error naming the file is the expected answer to bad input; anything else (a
// crash, a hang, std::bad_alloc) is a finding.
#include <cstdint>
#include <stdexcept>

#include "file_input.h"
#include "tatami/runtime/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = writeFuzzFile(data, size, "-idx");
  try {
    tatami::runtime::readIdx(path);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
