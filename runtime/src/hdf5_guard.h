// Internal: HDF5 files from outside are read in a child process, which sends back what it read,
// so that a file whose metadata crashes or hangs the HDF5 library (which walks it without bounds
// checks we could add) ends in an error naming the file, not in a crash or a hang of tatami, and
// tatami never walks it itself (a second read here could go where the child's did not: a corrupt
// file's reads depend on what lies in memory). The child is a reader process kept for the reads
// that follow one another closely (a fuzzer's, a dataset's splits), so that each costs a request
// on a socket, not a fork.
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tatami::runtime {

/// What the reader process runs: reads `path` and returns what it read, encoded as bytes
/// (ByteWriter), or throws std::runtime_error for what it refuses. A plain function, not a
/// closure: the reader is forked once and serves the reads that follow, and a request names its
/// function by address (the same in the fork, which is this image).
using Hdf5Read = std::string (*)(const std::string& path);

/// Runs `read(path)` in a reader process forked from this one and returns its bytes: this
/// process never walks the file's metadata itself. Throws std::runtime_error with the reader's
/// message, or naming the signal or exit code that ended it, or when it took longer than a limit
/// that grows with the file's size (10 s, or TATAMI_HDF5_SECONDS, + 1 s per 20 MB). A reader that
/// crashed or hung is gone; the next read forks a fresh one, as it does after 0.25 s without a
/// read (the reader itself exits after 1 s idle: it holds this process's pages copy-on-write),
/// after 10,000 reads, and after a read that left a file open in the library.
/// TATAMI_HDF5_CHILD=0 runs `read` in this process instead (for fuzzing the reading code itself,
/// whose coverage a child hides).
std::string readHdf5InChild(const std::string& path, Hdf5Read read);

/// The encoding of what a reader returns: integers, strings and arrays, in this host's byte order.
class ByteWriter {
 public:
  void u64(std::uint64_t v) { raw(&v, sizeof v); }
  void text(const std::string& s) { u64(s.size()), raw(s.data(), s.size()); }
  void raw(const void* data, std::size_t size) {
    if (size) out_.append(static_cast<const char*>(data), size);  // an empty vector's data() may be null
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(const std::string& in) : in_(in) {}
  std::uint64_t u64() {
    std::uint64_t v = 0;
    raw(&v, sizeof v);
    return v;
  }
  std::string text() {
    const std::uint64_t n = u64();
    need(n);
    std::string s = in_.substr(at_, n);
    at_ += n;
    return s;
  }
  void raw(void* data, std::size_t size) {
    need(size);
    if (size) std::memcpy(data, in_.data() + at_, size);
    at_ += size;
  }

 private:
  void need(std::uint64_t n) const {
    if (n > in_.size() - at_) throw std::runtime_error("the HDF5 reader's answer is cut short");
  }
  const std::string& in_;
  std::size_t at_ = 0;
};

/// A string attribute (fixed or variable length, one value), read through HDF5's C interface so
/// that a corrupt variable-length string (which the C++ wrapper passes to strlen as a null
/// pointer) is an error naming `where`, not a crash.
std::string readStringAttribute(const H5::Attribute& attribute, const std::string& where);

/// The most elements one file may ask to have read: half of the host's physical memory in
/// doubles, so that a corrupt or hostile size is refused by name instead of exhausting memory.
std::uint64_t maxHdf5Elements();

}  // namespace tatami::runtime
