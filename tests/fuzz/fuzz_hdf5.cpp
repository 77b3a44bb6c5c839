// libFuzzer target: HDF5 files as tatami reads them from outside: named arrays (run inputs of a
// bundle, results, datasets), SRAM images (run --input) and a training checkpoint (--resume).
// Each read goes first through the reader process (runtime/src/hdf5_guard.h), so a crash or a
// loop of the HDF5 library on corrupt metadata is an error here, as it is for users. A
// std::runtime_error is the expected answer to bad input; anything else is a finding.
#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "file_input.h"
#include "hdf5_readers.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TATAMI_FUZZ_ASAN 1
#endif
#endif

// A file the library loops on is given up after 50 ms (not 10 s): a file of this corpus reads in
// a millisecond, and one that takes longer under a loaded sanitizer build is only an error.
// TATAMI_HDF5_CHILD=0 reads in this process: libFuzzer then sees the reading code's coverage, at
// a hundred times the speed, and a crash of the HDF5 library is a crash here.
// Without ASan (TATAMI_FUZZ_SANITIZERS=undefined, whose address space is an ordinary one), 1 GiB
// of address space: the library's allocation for a corrupt variable-length string's length (up
// to 4 GiB, zeroed page by page) then fails at once, as an error, instead of costing most of the
// run's time.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("TATAMI_HDF5_SECONDS", "0.05", 0);
#ifndef TATAMI_FUZZ_ASAN
  const rlimit limit{rlim_t(1) << 30, rlim_t(1) << 30};
  setrlimit(RLIMIT_AS, &limit);
#endif
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  readAsTatamiDoes(writeFuzzFile(data, size, ".h5"));
  return 0;
}
