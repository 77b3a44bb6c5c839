// Subcommand dispatch, shared option handling and the mapping of errors to exit codes.
#include <iostream>
#include <sstream>

#include "command.h"
#include "tatami/runtime/output_file.h"
#include "tatami/arch/config_files.h"

namespace tatami::cli {

namespace {

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"info", "Print the resolved architecture config and derived figures", cmdInfo},
      {"run", "Run a program on one core and report cycles and unit statistics", cmdRun},
      {"asm", "Check a program; convert it between text (.tasm) and binary", cmdAsm},
      {"compile", "Compile a model (ONNX or text IR): training step, passes, a tile program", cmdCompile},
      {"train", "Train a model on the emulated machine (Fashion-MNIST) and evaluate it", cmdTrain},
      {"check", "Run one compiled training step on the emulator and on the host oracle; compare", cmdCheck},
      {"traffic", "Synthetic traffic on the mesh: throughput and latency, sweeps and plots", cmdTraffic},
      {"sweep", "Run a sweep (workloads x parameter axes) in parallel, resumably, into one table", cmdSweep},
      {"report", "One HTML page of a compiled step (breakdown, roofline, heat maps) or of a sweep", cmdReport},
      {"compare", "Two results, or a model's step under two configurations, side by side", cmdCompare},
      {"regress", "Run the regression cases and compare their figures with the goldens", cmdRegress},
      {"validate", "The network's validation report: fast model against the flit-level reference", cmdValidate},
  };
  return list;
}

void printMainHelp(std::ostream& out) {
  out << "Usage: tatami <command> [options]\n\n"
         "Tatami emulates a Dojo-style wafer-scale training computer.\n\nCommands:\n";
  for (const auto& c : commands()) {
    std::string name = c.name;
    name.resize(12, ' ');
    out << "  " << name << c.summary << "\n";
  }
  out << "\nRun 'tatami <command> --help' for the options of a command.\n"
         "Exit codes: 0 success, 1 a run failed, 2 bad usage or bad input.\n";
}

}  // namespace

void MachineOptions::addTo(po::options_description& desc) {
  desc.add_options()
      ("config", po::value<std::string>(&configFile)->value_name("FILE"),
       "architecture preset (INI); default: the built-in D1 preset (configs/d1.ini)")
      ("set", po::value<std::vector<std::string>>(&overrides)->composing()->value_name("SECTION.KEY=VALUE"),
       "override one parameter after the preset; repeatable (see 'tatami info --describe')");
}

ArchConfig MachineOptions::resolve() const { return resolveConfig(configFile, overrides); }

std::string MachineOptions::origin() const {
  std::string s = configFile.empty() ? "the D1 preset (built in)" : configFile;
  for (const auto& o : overrides) s += ", --set " + o;
  return s;
}

bool parseArgs(const std::vector<std::string>& args, const po::options_description& desc,
               const po::positional_options_description* positional, po::variables_map& vm,
               const std::string& usage, std::ostream& out, const po::options_description* hidden) {
  try {
    po::options_description all;
    all.add(desc);
    if (hidden) all.add(*hidden);
    po::command_line_parser parser(args);
    parser.options(all);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      out << usage << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return true;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() < 2) {
    printMainHelp(err);
    return kExitBadInput;
  }
  const std::string name = args[1];
  if (name == "--help" || name == "-h" || name == "help") {
    printMainHelp(out);
    return kExitOk;
  }
  if (name == "--version") {
    out << "tatami 0.1.0\n";
    return kExitOk;
  }
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    const std::vector<std::string> rest(args.begin() + 2, args.end());
    try {
      return c.fn(rest, out, err);
    } catch (const UsageError& e) {
      err << "tatami " << name << ": " << e.what() << "\nTry 'tatami " << name << " --help'.\n";
      return kExitBadInput;
    } catch (const ConfigError& e) {
      err << "tatami " << name << ": config error: " << e.what() << "\n";
      return kExitBadInput;
    } catch (const driver::RequestError& e) {
      err << "tatami " << name << ": " << e.what() << "\n";
      return kExitBadInput;
    } catch (const InputError& e) {
      err << "tatami " << name << ": " << e.what() << "\n";
      return kExitBadInput;
    } catch (const runtime::OutputError& e) {  // an output that cannot be written, named
      err << "tatami " << name << ": " << e.what() << "\n";
      return kExitBadInput;
    } catch (const std::exception& e) {
      err << "tatami " << name << ": error: " << e.what() << "\n";
      return kExitRunFailed;
    }
  }
  err << "tatami: unknown command '" << name << "'\n\n";
  printMainHelp(err);
  return kExitBadInput;
}

}  // namespace tatami::cli
