// Output files: atomic replacement of regular files, symlinks followed, devices written in place.
#include "tatami/runtime/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace tatami::runtime {

namespace {

std::string reason() { return std::strerror(errno); }

/// The path an output really goes to: symbolic links followed to their final target (which may
/// not exist yet); `kind` is that target's st_mode, or 0 when it does not exist.
std::string resolved(const std::string& path, mode_t& kind) {
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0) {
    kind = existing.st_mode;
    // Not a regular file (a device, a FIFO, /dev/stdout's pipe): opened through the path itself,
    // which follows every link, the kernel's own (/proc/self/fd/1) included.
    if (!S_ISREG(existing.st_mode)) return path;
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real) throw OutputError("cannot write '" + path + "': " + reason());
    const std::string target(real);
    std::free(real);
    return target;
  }
  if (errno != ENOENT) throw OutputError("cannot write '" + path + "': " + reason());
  // A new path, or a symlink to one: the links followed to the path that will be created.
  std::string p = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno != ENOENT) throw OutputError("cannot write '" + path + "': " + reason());
      kind = 0;
      return p;
    }
    if (!S_ISLNK(st.st_mode)) {
      kind = st.st_mode;
      return p;
    }
    char target[PATH_MAX];
    const ssize_t n = ::readlink(p.c_str(), target, sizeof target - 1);
    if (n < 0) throw OutputError("cannot write '" + path + "': " + reason());
    target[n] = '\0';
    const std::string t(target);
    const auto slash = p.rfind('/');
    p = t.front() == '/' || slash == std::string::npos ? t : p.substr(0, slash + 1) + t;
  }
  throw OutputError("cannot write '" + path + "': too many levels of symbolic links");
}

void writeAll(int fd, const std::string& bytes, const std::string& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw OutputError("cannot write '" + path + "': " + reason());
    done += std::size_t(n);
  }
}

/// Writes into an existing non-regular file (a device, a FIFO) without replacing it.
void writeInPlace(const std::string& target, const std::string& bytes, const std::string& path) {
  const int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw OutputError("cannot write '" + path + "': " + reason());
  try {
    writeAll(fd, bytes, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw OutputError("cannot write '" + path + "': " + reason());
}

/// A fresh temporary name beside `target` (same folder, so that the rename is atomic).
std::string temporaryBeside(const std::string& target, int& fd, const std::string& path) {
  std::string name = target + ".partial.XXXXXX";
  fd = ::mkstemp(name.data());
  if (fd < 0) throw OutputError("cannot write '" + path + "': " + reason());
  return name;
}

/// Puts the finished temporary file in the target's place. mkstemp made it 0600: it takes the
/// replaced file's permissions, or the usual ones (0666 less the umask) for a new file.
void replaceWith(const std::string& tmp, const std::string& target, mode_t kind, const std::string& path) {
  mode_t mode = kind & 07777;
  if (kind == 0) {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  ::chmod(tmp.c_str(), mode);
  if (std::rename(tmp.c_str(), target.c_str()) != 0) throw OutputError("cannot write '" + path + "': " + reason());
}

}  // namespace

void writeOutputFile(const std::string& path, const std::string& bytes) {
  if (path.empty()) throw OutputError("an output path is empty");
  mode_t kind = 0;
  const std::string target = resolved(path, kind);
  if (kind != 0 && S_ISDIR(kind)) throw OutputError("cannot write '" + path + "': it is a directory");
  if (kind != 0 && !S_ISREG(kind)) return writeInPlace(target, bytes, path);
  int fd = -1;
  const std::string tmp = temporaryBeside(target, fd, path);
  try {
    writeAll(fd, bytes, path);
    if (::fsync(fd) != 0) throw OutputError("cannot write '" + path + "': " + reason());
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) throw OutputError("cannot write '" + path + "': " + reason());
    replaceWith(tmp, target, kind, path);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    std::remove(tmp.c_str());
    throw;
  }
}

void writeOutputFileVia(const std::string& path, const std::function<void(const std::string&)>& write) {
  if (path.empty()) throw OutputError("an output path is empty");
  mode_t kind = 0;
  const std::string target = resolved(path, kind);
  if (kind != 0 && S_ISDIR(kind)) throw OutputError("cannot write '" + path + "': it is a directory");
  // The library writes a temporary file: beside the target for a regular one (then renamed), in
  // the temporary folder for a device or FIFO (then copied into it).
  const bool inPlace = kind != 0 && !S_ISREG(kind);
  int fd = -1;
  std::string tmp;
  if (inPlace) {
    const char* dir = std::getenv("TMPDIR");
    tmp = std::string(dir && *dir ? dir : "/tmp") + "/tatami-output.XXXXXX";
    fd = ::mkstemp(tmp.data());
    if (fd < 0) throw OutputError("cannot write '" + path + "': no temporary file: " + reason());
  } else {
    tmp = temporaryBeside(target, fd, path);
  }
  ::close(fd);
  try {
    write(tmp);
    if (inPlace) {
      std::ifstream in(tmp, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) throw OutputError("cannot write '" + path + "': cannot read back the temporary file");
      writeInPlace(target, bytes, path);
      std::remove(tmp.c_str());
      return;
    }
    replaceWith(tmp, target, kind, path);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

void checkOutputPath(const std::string& path) {
  if (path.empty()) throw OutputError("an output path is empty");
  mode_t kind = 0;
  const std::string target = resolved(path, kind);
  if (kind != 0 && S_ISDIR(kind)) throw OutputError("cannot write '" + path + "': it is a directory");
  if (kind != 0) {
    if (::access(target.c_str(), W_OK) != 0) throw OutputError("cannot write '" + path + "': " + reason());
    return;
  }
  const auto slash = target.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : target.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) throw OutputError("cannot write '" + path + "': folder '" + dir + "': " + reason());
  if (!S_ISDIR(st.st_mode)) throw OutputError("cannot write '" + path + "': '" + dir + "' is not a folder");
  if (::access(dir.c_str(), W_OK) != 0) throw OutputError("cannot write '" + path + "': folder '" + dir + "': " + reason());
}

}  // namespace tatami::runtime
