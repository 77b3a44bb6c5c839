// A progress bar on standard error (progress.h).
#include "progress.h"

#include <unistd.h>

#include <sstream>

namespace tatami::cli {

std::string clockText(double seconds) {
  const long s = long(seconds + 0.5);
  std::ostringstream os;
  if (s >= 3600) os << s / 3600 << "h" << (s % 3600) / 60 << "m";
  else if (s >= 60) os << s / 60 << "m" << (s % 60 < 10 ? "0" : "") << s % 60 << "s";
  else os << s << "s";
  return os.str();
}

bool stderrIsTerminal() { return isatty(2) != 0; }

ProgressBar::ProgressBar(std::ostream& err, std::size_t total, std::string unit, bool terminal)
    : err_(err), total_(total), unit_(std::move(unit)), terminal_(terminal) {}

void ProgressBar::update(std::size_t done, std::size_t failed) {
  const auto now = std::chrono::steady_clock::now();
  const bool last = done + failed >= total_;
  if (terminal_ && !last && drawn_ && now - lastDraw_ < std::chrono::milliseconds(100)) return;
  lastDraw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::size_t left = total_ > done + failed ? total_ - done - failed : 0;
  const int width = 30, filled = total_ ? int(double(width) * double(done) / double(total_)) : width;
  err_ << (terminal_ ? "\r\033[K" : "") << "[" << std::string(std::size_t(filled), '#') << std::string(std::size_t(width - filled), '.') << "] " << done
       << "/" << total_ << " " << unit_ << ", " << clockText(elapsed) << " elapsed, ETA "
       << (done ? clockText(elapsed / double(done) * double(left)) : std::string("?")) << (terminal_ ? "" : "\n") << std::flush;
  drawn_ = true;
}

void ProgressBar::clear() {
  if (terminal_ && drawn_) err_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

void ProgressBar::finish() {
  if (terminal_ && drawn_) err_ << "\n" << std::flush;
  drawn_ = false;
}

}  // namespace tatami::cli
