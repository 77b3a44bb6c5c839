// libFuzzer target: HDF5 files as tatami reads them from outside: named arrays (run inputs of a
// bundle, results, datasets), SRAM images (run --input) and a training checkpoint (--resume).
// Each read goes first through a child process (runtime/src/hdf5_guard.h), so a crash or a loop
// of the HDF5 library on corrupt metadata is an error here, as it is for users. A
// std::runtime_error is the expected answer to bad input; anything else is a finding.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "file_input.h"
#include "hdf5_readers.h"

// A file the library loops on is given up after 2 s (not 10), within libFuzzer's timeout.
// TATAMI_HDF5_CHILD=0 (set it to fuzz) reads in this process: libFuzzer then sees the reading
// code's coverage, at a hundred times the speed, and a crash of the HDF5 library is a crash here.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("TATAMI_HDF5_SECONDS", "2", 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  readAsTatamiDoes(writeFuzzFile(data, size, ".h5"));
  return 0;
}
