// Every file a command writes goes through one rule, so that an output never replaces what it
// should not and a failed write never passes silently.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace tatami::runtime {

/// An output that could not be written: the message names the path and the reason.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Writes `bytes` as the output file `path`:
/// - a new path or an existing regular file is replaced atomically: the bytes go to a temporary
///   file beside it, flushed and closed, then renamed over it (a reader never sees half a file);
/// - a symbolic link is followed: its final target is written by these rules and the link stays;
/// - an existing file that is not regular (a device such as /dev/null, a FIFO) is written in
///   place and never replaced;
/// - a directory is refused.
/// Every write and the close are checked; a failure throws OutputError (the temporary file is
/// removed).
void writeOutputFile(const std::string& path, const std::string& bytes);

/// For outputs a library writes by file name (HDF5): `write(name)` writes the whole file to the
/// temporary name it is given, which then takes the place of `path` by the rules above (copied
/// into a non-regular target). Exceptions from `write` pass through after the temporary file is
/// removed.
void writeOutputFileVia(const std::string& path, const std::function<void(const std::string&)>& write);

/// Checks before a long run that `path` could be written as an output: its folder exists and is
/// writable and it is not a directory. Throws OutputError.
void checkOutputPath(const std::string& path);

}  // namespace tatami::runtime
