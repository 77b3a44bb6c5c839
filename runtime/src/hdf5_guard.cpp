// Reading an HDF5 file in a reader process (hdf5_guard.h).
#include "hdf5_guard.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace tatami::runtime {

std::uint64_t maxHdf5Elements() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const std::uint64_t memory = pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) : (std::uint64_t(1) << 32);
  return memory / 2 / sizeof(double);
}

std::string readStringAttribute(const H5::Attribute& attribute, const std::string& where) {
  if (attribute.getTypeClass() != H5T_STRING || attribute.getSpace().getSimpleExtentNpoints() != 1)
    throw std::runtime_error(where + " is not a single string");
  const hid_t type = H5Aget_type(attribute.getId());
  if (type < 0) throw std::runtime_error(where + ": its type cannot be read");
  std::string value;
  const htri_t variable = H5Tis_variable_str(type);
  if (variable > 0) {
    const hid_t memory = H5Tcopy(H5T_C_S1);
    H5Tset_size(memory, H5T_VARIABLE);
    H5Tset_cset(memory, H5Tget_cset(type));  // ASCII or UTF-8, as stored: HDF5 converts neither way
    char* text = nullptr;
    const herr_t rc = H5Aread(attribute.getId(), memory, &text);
    H5Tclose(memory);
    if (rc < 0 || !text) {
      H5Tclose(type);
      throw std::runtime_error(where + ": its string cannot be read (corrupt)");
    }
    value = text;
    H5free_memory(text);
  } else {
    const std::size_t size = H5Tget_size(type);
    if (size == 0 || size > (std::size_t(1) << 30)) {
      H5Tclose(type);
      throw std::runtime_error(where + ": a string of " + std::to_string(size) + " bytes");
    }
    std::string buffer(size, '\0');
    const herr_t rc = H5Aread(attribute.getId(), type, buffer.data());
    if (rc < 0) {
      H5Tclose(type);
      throw std::runtime_error(where + ": its string cannot be read (corrupt)");
    }
    value = buffer.substr(0, buffer.find('\0'));
  }
  H5Tclose(type);
  return value;
}

namespace {

constexpr int kReadsPerReader = 10000;  ///< then a fresh reader: the library's state and leaks stay bounded
constexpr int kReaderIdleMs = 1000;      ///< the reader exits after this long without a request
constexpr double kReuseSeconds = 0.25;   ///< the parent sends to a reader only this soon after its last answer
constexpr std::uint8_t kFailed = 1, kRetiring = 2;  ///< the answer's first byte

bool writeAll(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n, size -= std::size_t(n);
  }
  return true;
}

bool readAll(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n, size -= std::size_t(n);
  }
  return true;
}

/// The reader process: requests (the function's address, the path's length, the path) and
/// answers (kFailed and kRetiring bits, the length of what follows, the bytes read or the error)
/// on `fd`, until the parent closes its end or sends nothing for kReaderIdleMs.
[[noreturn]] void serve(int fd) {
  // What the library (or a sanitizer) prints about a corrupt file is not the user's business:
  // the answer is the message on the socket, or how the reader ended. Nothing of the parent's
  // standard streams stays open here, so that no one waits on them for this process.
  const int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2), close(devnull);
  // A crash ends the reader plainly, whatever handlers the parent installed (a sanitizer's, a
  // fuzzer's): the parent names the signal.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(sig, SIG_DFL);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, kReaderIdleMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) _exit(0);
    std::uint64_t function = 0;
    std::uint32_t length = 0;
    if (!readAll(fd, &function, sizeof function) || !readAll(fd, &length, sizeof length)) _exit(0);
    std::string path(length, '\0');
    if (!readAll(fd, path.data(), length)) _exit(0);
    std::uint8_t rc = 0;
    std::string message;  // the bytes read, or the error
    try {
      message = reinterpret_cast<Hdf5Read>(function)(path);
    } catch (const std::exception& e) {
      message = e.what(), rc = kFailed;
    } catch (...) {
      message = "an unknown error", rc = kFailed;
    }
    // The library identifies an open file by its inode: one left open by a failed read (an
    // identifier it did not release) would serve the next read of a file rewritten in place
    // from its stale metadata. Such a reader answers, says so, and ends.
    const bool leaked = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE) > 0;  // any object left open keeps its file open
    if (leaked) rc |= kRetiring;
    const std::uint64_t size = message.size();
    if (!writeAll(fd, &rc, 1) || !writeAll(fd, &size, sizeof size) || !writeAll(fd, message.data(), size) || leaked) _exit(0);
  }
}

struct Reader {
  pid_t pid = -1;
  int fd = -1;  ///< the parent's end of the socket
  int reads = 0;
  std::chrono::steady_clock::time_point lastAnswer;
};

/// Ends the reader (after a kill, or by closing its socket) and returns how it ended.
int reap(Reader& r) {
  if (r.fd >= 0) close(r.fd);
  int status = 0;
  while (r.pid > 0 && waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
  }
  r = Reader{};
  return status;
}

void spawn(Reader& r, const std::string& path) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw std::runtime_error("cannot read '" + path + "': socketpair: " + std::strerror(errno));
  const pid_t child = fork();
  if (child < 0) {
    close(fds[0]), close(fds[1]);
    throw std::runtime_error("cannot read '" + path + "': fork: " + std::strerror(errno));
  }
  if (child == 0) {
    close(fds[0]);
    serve(fds[1]);
  }
  close(fds[1]);
  r.pid = child, r.fd = fds[0], r.reads = 0;
}

/// The reader's answer within `limitSeconds`: its first byte (kFailed with the error in
/// `payload`, else the bytes read, and kRetiring when the reader ends after it), or -1 when the
/// socket closed first (the reader ended) or -2 when the time ran out.
int answer(const Reader& r, double limitSeconds, std::string& payload) {
  const auto start = std::chrono::steady_clock::now();
  unsigned char header[9];
  std::size_t got = 0, size = 0;
  bool sized = false;
  for (;;) {
    if (sized && got == size) return header[0];
    const double left = limitSeconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (left <= 0) return -2;
    pollfd p{r.fd, POLLIN, 0};
    const int ready = poll(&p, 1, int(left * 1000) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = sized ? ::read(r.fd, payload.data() + got, size - got) : ::read(r.fd, header + got, sizeof header - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    got += std::size_t(n);
    if (!sized && got == sizeof header) {
      std::uint64_t length = 0;
      std::memcpy(&length, header + 1, sizeof length);
      payload.assign(length, '\0');
      size = length, got = 0, sized = true;
    }
  }
}

}  // namespace

std::string readHdf5InChild(const std::string& path, Hdf5Read read) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot open HDF5 file '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw std::runtime_error("'" + path + "' is not a regular file");
  // TATAMI_HDF5_CHILD=0 reads in this process (the HDF5 fuzz target: its coverage and speed).
  const char* inChild = std::getenv("TATAMI_HDF5_CHILD");
  if (inChild && std::string(inChild) == "0") return read(path);
  // TATAMI_HDF5_SECONDS replaces the 10 s base (the HDF5 fuzz target uses 2).
  const char* base = std::getenv("TATAMI_HDF5_SECONDS");
  const double limitSeconds = (base && std::atof(base) > 0 ? std::atof(base) : 10.0) + double(st.st_size) / 20e6;
  static std::mutex mutex;
  static Reader reader;
  const std::lock_guard<std::mutex> lock(mutex);
  // A reader idle for longer than kReuseSeconds may be exiting (kReaderIdleMs): a fresh one. The
  // one case of a reader that ended without an answer and without a fault is that race, lost
  // anyway (this process stalled between the two clocks): the read is sent once more.
  for (int attempt = 0;; ++attempt) {
    if (reader.pid > 0 && (reader.reads >= kReadsPerReader ||
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - reader.lastAnswer).count() > kReuseSeconds))
      reap(reader);
    if (reader.pid < 0) spawn(reader, path);
    const std::uint64_t function = reinterpret_cast<std::uint64_t>(read);
    const std::uint32_t length = std::uint32_t(path.size());
    const bool sent = writeAll(reader.fd, &function, sizeof function) && writeAll(reader.fd, &length, sizeof length) &&
                      writeAll(reader.fd, path.data(), length);
    std::string payload;
    const int rc = sent ? answer(reader, limitSeconds, payload) : -1;
    if (rc >= 0) {
      ++reader.reads;
      reader.lastAnswer = std::chrono::steady_clock::now();
      if (rc & kRetiring) reap(reader);
      if (rc & kFailed) throw std::runtime_error(payload);
      return payload;
    }
    if (rc == -2) {
      kill(reader.pid, SIGKILL);
      reap(reader);
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.3g", limitSeconds);
      throw std::runtime_error("reading HDF5 file '" + path + "' did not finish in " + seconds +
                               " s: its metadata is corrupt (the HDF5 library loops on it)");
    }
    const int status = reap(reader);
    if (WIFSIGNALED(status))
      throw std::runtime_error("reading HDF5 file '" + path + "' crashed the HDF5 library (" + strsignal(WTERMSIG(status)) +
                               "): its metadata is corrupt");
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
      // A sanitizer ends a crash with an exit code.
      throw std::runtime_error("reading HDF5 file '" + path + "' crashed the HDF5 library (it ended without an answer, exit code " +
                               std::to_string(WEXITSTATUS(status)) + "): its metadata is corrupt");
    if (attempt > 0) throw std::runtime_error("reading HDF5 file '" + path + "': the reader process ended without an answer");
  }
}

}  // namespace tatami::runtime
