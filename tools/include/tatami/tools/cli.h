// The `tatami` command line: git-style subcommands. Exit codes: 0 success, 1 a run failed,
// 2 bad usage or bad input.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace tatami::cli {

enum ExitCode : int { kExitOk = 0, kExitRunFailed = 1, kExitBadInput = 2, kExitInterrupted = 3 };

/// Runs `tatami` with the given arguments (args[0] is the program name), writing to out/err.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tatami::cli
