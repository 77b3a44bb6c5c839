// Internal: HDF5 files from outside are read first in a child process, so that a file whose
// metadata crashes or hangs the HDF5 library (which walks it without bounds checks we could add)
// ends in an error naming the file, not in a crash or a hang of tatami.
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <functional>
#include <string>

namespace tatami::runtime {

/// Runs `read` (which reads `path` and throws std::runtime_error for what it refuses) in a forked
/// child. Returns when it succeeded there; throws std::runtime_error with the child's message,
/// or naming the signal that killed it, or when it took longer than a limit that grows with the
/// file's size (10 s, or TATAMI_HDF5_SECONDS, + 1 s per 20 MB). TATAMI_HDF5_CHILD=0 runs `read`
/// in this process instead (for fuzzing the reading code itself, whose coverage a child hides).
void checkHdf5InChild(const std::string& path, const std::function<void()>& read);

/// A string attribute (fixed or variable length, one value), read through HDF5's C interface so
/// that a corrupt variable-length string (which the C++ wrapper passes to strlen as a null
/// pointer) is an error naming `where`, not a crash.
std::string readStringAttribute(const H5::Attribute& attribute, const std::string& where);

/// The most elements one file may ask to have read: half of the host's physical memory in
/// doubles, so that a corrupt or hostile size is refused by name instead of exhausting memory.
std::uint64_t maxHdf5Elements();

}  // namespace tatami::runtime
