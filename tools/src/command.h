// Internal: what every subcommand shares (its signature, machine options, usage errors).
#pragma once

#include <boost/program_options.hpp>
#include <iosfwd>
#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/driver/step.h"
#include "tatami/tools/cli.h"

namespace tatami::cli {

namespace po = boost::program_options;

/// A subcommand: receives its own arguments (without the program and command names).
using CommandFn = int (*)(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

struct Command {
  const char* name;
  const char* summary;
  CommandFn fn;
};

/// `--config` and `--set`, on every subcommand that builds a machine.
struct MachineOptions {
  std::string configFile;
  std::vector<std::string> overrides;
  void addTo(po::options_description& desc);
  /// Resolves and validates the config; throws ConfigError.
  ArchConfig resolve() const;
  /// "the D1 preset (built in)" or the file name, plus overrides.
  std::string origin() const;
};

/// Bad usage: the command line cannot be parsed or contradicts itself (an unknown option, a
/// missing operand, a value of the wrong form, flags that exclude each other). The message is
/// printed with a hint to --help, exit code 2. A request the driver refuses for what it asks of
/// the model, the data or the machine (driver::RequestError) names the flag, without the hint.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An input file whose contents are wrong (a result, spec or case file): the message names the
/// file and the problem; exit code 2, with no hint to --help (the command line was right).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses `args` against `desc` (and positional names, if any). Returns false and prints help
/// to `out` when --help was given. Throws UsageError on bad options.
/// `hidden` options (positional operands) are parsed but not listed in the help.
bool parseArgs(const std::vector<std::string>& args, const po::options_description& desc,
               const po::positional_options_description* positional, po::variables_map& vm,
               const std::string& usage, std::ostream& out, const po::options_description* hidden = nullptr);

int cmdInfo(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdRun(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdAsm(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdCompile(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdCheck(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdSweep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdReport(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdCompare(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdTrain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdTraffic(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdValidate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmdRegress(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tatami::cli
