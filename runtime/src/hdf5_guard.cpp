// Reading an HDF5 file first in a child process (hdf5_guard.h).
#include "hdf5_guard.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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

void checkHdf5InChild(const std::string& path, const std::function<void()>& read) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot open HDF5 file '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw std::runtime_error("'" + path + "' is not a regular file");
  // TATAMI_HDF5_CHILD=0 reads in this process (the HDF5 fuzz target: its coverage and speed).
  const char* inChild = std::getenv("TATAMI_HDF5_CHILD");
  if (inChild && std::string(inChild) == "0") {
    read();
    return;
  }
  // TATAMI_HDF5_SECONDS replaces the 10 s base (the HDF5 fuzz target uses 2).
  const char* base = std::getenv("TATAMI_HDF5_SECONDS");
  const double limitSeconds = (base && std::atof(base) > 0 ? std::atof(base) : 10.0) + double(st.st_size) / 20e6;
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("cannot check '" + path + "': pipe: ") + std::strerror(errno));
  const pid_t child = fork();
  if (child < 0) {
    close(fds[0]), close(fds[1]);
    throw std::runtime_error(std::string("cannot check '" + path + "': fork: ") + std::strerror(errno));
  }
  if (child == 0) {
    close(fds[0]);
    // What the library (or a sanitizer) prints about a corrupt file is not the user's business:
    // the answer is the message on the pipe, or how the child ended.
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2), close(devnull);
    // A crash ends the child plainly, whatever handlers the parent installed (a sanitizer's, a
    // fuzzer's): the parent names the signal.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(sig, SIG_DFL);
    int rc = 0;
    std::string message;
    try {
      read();
    } catch (const std::exception& e) {
      message = e.what(), rc = 1;
    } catch (...) {
      message = "an unknown error", rc = 1;
    }
    for (std::size_t at = 0; at < message.size();) {
      const ssize_t n = write(fds[1], message.data() + at, message.size() - at);
      if (n <= 0) break;
      at += std::size_t(n);
    }
    _exit(rc);  // no exit handlers: they belong to the parent
  }
  close(fds[1]);
  std::string message;
  const auto start = std::chrono::steady_clock::now();
  bool timedOut = false;
  for (;;) {
    const double left = limitSeconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, int(left * 1000) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: it has ended
    message.append(buf, std::size_t(n));
  }
  close(fds[0]);
  if (timedOut) kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut)
    throw std::runtime_error("reading HDF5 file '" + path + "' did not finish in " + std::to_string(int(limitSeconds)) +
                             " s: its metadata is corrupt (the HDF5 library loops on it)");
  if (WIFSIGNALED(status))
    throw std::runtime_error("reading HDF5 file '" + path + "' crashed the HDF5 library (" + strsignal(WTERMSIG(status)) +
                             "): its metadata is corrupt");
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    // No message: the child did not answer (a sanitizer ends a crash with an exit code).
    if (message.empty())
      throw std::runtime_error("reading HDF5 file '" + path + "' crashed the HDF5 library (it ended without an answer, exit code " +
                               std::to_string(WEXITSTATUS(status)) + "): its metadata is corrupt");
    throw std::runtime_error(message);
  }
}

}  // namespace tatami::runtime
