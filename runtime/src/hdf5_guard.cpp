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
#include <cstring>
#include <stdexcept>

namespace tatami::runtime {

std::uint64_t maxHdf5Elements() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const std::uint64_t memory = pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) : (std::uint64_t(1) << 32);
  return memory / 2 / sizeof(double);
}

void checkHdf5InChild(const std::string& path, const std::function<void()>& read) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot open HDF5 file '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw std::runtime_error("'" + path + "' is not a regular file");
  const double limitSeconds = 10.0 + double(st.st_size) / 20e6;
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("cannot check '" + path + "': pipe: ") + std::strerror(errno));
  const pid_t child = fork();
  if (child < 0) {
    close(fds[0]), close(fds[1]);
    throw std::runtime_error(std::string("cannot check '" + path + "': fork: ") + std::strerror(errno));
  }
  if (child == 0) {
    close(fds[0]);
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
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    throw std::runtime_error(message.empty() ? "cannot read HDF5 file '" + path + "'" : message);
}

}  // namespace tatami::runtime
