// Internal: a progress bar with the time elapsed and an estimate of the time left, on the
// standard error of a terminal (redrawn in place), or a line per update elsewhere.
#pragma once

#include <chrono>
#include <cstddef>
#include <ostream>
#include <string>

namespace tatami::cli {

/// "42s", "3m07s", "1h05m".
std::string clockText(double seconds);

class ProgressBar {
 public:
  /// `total` items named `unit` ("steps", "points"); `terminal`: redraw one line in place.
  ProgressBar(std::ostream& err, std::size_t total, std::string unit, bool terminal);
  /// `done` of the total finished (and `failed`, which the estimate leaves out). On a terminal at
  /// most ten redraws a second, the last one always.
  void update(std::size_t done, std::size_t failed = 0);
  /// Clears the bar's line on a terminal, so that another line can be printed in its place.
  void clear();
  /// Ends the bar's line on a terminal.
  void finish();
  bool terminal() const { return terminal_; }

 private:
  std::ostream& err_;
  std::size_t total_;
  std::string unit_;
  bool terminal_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), lastDraw_{};
};

/// Whether standard error is a terminal.
bool stderrIsTerminal();

}  // namespace tatami::cli
