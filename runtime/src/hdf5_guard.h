// Internal: HDF5 files from outside are read first in a child process, so that a file whose
// metadata crashes or hangs the HDF5 library (which walks it without bounds checks we could add)
// ends in an error naming the file, not in a crash or a hang of tatami. The child is a reader
// process kept for the checks that follow one another closely (a fuzzer's, a dataset's splits),
// so that each costs a request on a socket, not a fork.
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <string>

namespace tatami::runtime {

/// What the reader process runs: reads `path` and throws std::runtime_error for what it refuses.
/// A plain function, not a closure: the reader is forked once and serves the checks that follow,
/// and a request names its function by address (the same in the fork, which is this image).
using Hdf5Read = void (*)(const std::string& path);

/// Runs `read(path)` in a reader process forked from this one. Returns when it succeeded there;
/// throws std::runtime_error with the reader's message, or naming the signal or exit code that
/// ended it, or when it took longer than a limit that grows with the file's size (10 s, or
/// TATAMI_HDF5_SECONDS, + 1 s per 20 MB). A reader that crashed or hung is gone; the next check
/// forks a fresh one, as it does after 0.25 s without a check (the reader itself exits after 1 s
/// idle: it holds this process's pages copy-on-write) and after 10,000 checks.
/// TATAMI_HDF5_CHILD=0 runs `read` in this process instead (for fuzzing the reading code itself,
/// whose coverage a child hides).
void checkHdf5InChild(const std::string& path, Hdf5Read read);

/// A string attribute (fixed or variable length, one value), read through HDF5's C interface so
/// that a corrupt variable-length string (which the C++ wrapper passes to strlen as a null
/// pointer) is an error naming `where`, not a crash.
std::string readStringAttribute(const H5::Attribute& attribute, const std::string& where);

/// The most elements one file may ask to have read: half of the host's physical memory in
/// doubles, so that a corrupt or hostile size is refused by name instead of exhausting memory.
std::uint64_t maxHdf5Elements();

}  // namespace tatami::runtime
