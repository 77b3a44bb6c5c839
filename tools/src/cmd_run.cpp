// `tatami run`: runs a program on the modelled machine and reports cycles and unit statistics.
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "command.h"
#include "run_report.h"
#include "trace_json.h"
#include "tatami/arch/assembler.h"
#include "tatami/runtime/bundle.h"
#include "tatami/runtime/hdf5_io.h"
#include "tatami/tools/config_files.h"
#include "tatami/tlm/network.h"

namespace tatami::cli {

namespace {

DType parseType(const std::string& s, const std::string& where) {
  for (DType t : {DType::F32, DType::Bf16, DType::E4m3, DType::E5m2, DType::I32})
    if (s == dtypeName(t)) return t;
  throw UsageError(where + ": unknown type '" + s + "' (f32, bf16, e4m3, e5m2, i32)");
}

/// NAME=ADDR:TYPE:SHAPE, e.g. C=0x40000:f32:256x256
runtime::SramImage parseDump(const std::string& spec) {
  const std::string where = "--dump " + spec;
  const auto eq = spec.find('=');
  const auto c1 = spec.find(':', eq == std::string::npos ? 0 : eq);
  const auto c2 = c1 == std::string::npos ? c1 : spec.find(':', c1 + 1);
  if (eq == std::string::npos || c1 == std::string::npos || c2 == std::string::npos)
    throw UsageError(where + ": expected NAME=ADDR:TYPE:SHAPE, e.g. C=0x40000:f32:256x256");
  runtime::SramImage img;
  img.name = spec.substr(0, eq);
  try {
    img.addr = std::stoull(spec.substr(eq + 1, c1 - eq - 1), nullptr, 0);
    img.type = parseType(spec.substr(c1 + 1, c2 - c1 - 1), where);
    std::string shape = spec.substr(c2 + 1);
    std::size_t pos = 0;
    while (pos <= shape.size()) {
      const auto x = shape.find('x', pos);
      img.shape.push_back(std::stoull(shape.substr(pos, x - pos)));
      if (x == std::string::npos) break;
      pos = x + 1;
    }
  } catch (const std::logic_error&) {
    throw UsageError(where + ": malformed address or shape");
  }
  return img;
}

/// `tatami run BUNDLE`: full tensors in (HDF5 arrays by name), every core's program, full
/// tensors out. The bundle's configuration is used; one given with --config/--set must equal it.
int runBundleFile(const std::string& path, const MachineOptions& machine, const po::variables_map& vm, const std::string& inputPath,
                  const std::string& outputPath, std::ostream& out, std::ostream& err) {
  runtime::Bundle bundle;
  try {
    bundle = runtime::readBundle(path);
  } catch (const runtime::BundleError& e) {
    err << "tatami run: " << e.what() << "\n";
    return kExitBadInput;
  }
  ArchConfig config;
  applyIni(config, bundle.configIni, path + " (its configuration)");
  validate(config);
  if (!machine.configFile.empty() || !machine.overrides.empty()) {
    const std::string asked = toIni(machine.resolve()), compiled = toIni(config);
    if (asked != compiled) {
      std::istringstream a(asked), c(compiled);
      std::string la, lc;
      while (std::getline(a, la) && std::getline(c, lc) && la == lc) {
      }
      err << "tatami run: the bundle was compiled for another configuration: '" << lc << "' in the bundle, '" << la << "' here; "
          << "recompile it, or run it without --config/--set\n";
      return kExitBadInput;
    }
  }
  std::vector<runtime::NamedArray> feeds;
  try {
    if (!inputPath.empty()) feeds = runtime::readArrays(inputPath);
  } catch (const std::runtime_error& e) {
    err << "tatami run: " << e.what() << "\n";
    return kExitBadInput;
  }
  runtime::RunOptions options;
  options.timingOnly = vm.count("timing-only") > 0;
  options.rtlCheck = vm.count("rtl-check") > 0;
  runtime::BundleRun result;
  try {
    result = runtime::runBundle(config, bundle, feeds, options);
  } catch (const std::runtime_error& e) {
    err << "tatami run: " << path << ": " << e.what() << "\n";
    return kExitBadInput;
  }
  auto summary = runJson(config, result.run, options.timingOnly);
  summary["bundle"] = path;
  nlohmann::ordered_json fed = nlohmann::ordered_json::array();
  for (const auto& f : feeds) fed.push_back(f.name);
  summary["fed"] = fed;
  if (!outputPath.empty()) {
    try {
      runtime::writeArrays(outputPath, result.outputs, {{"config", bundle.configIni}, {"bundle", path}, {"summary", summary.dump()}});
    } catch (const std::runtime_error& e) {
      err << "tatami run: " << e.what() << "\n";
      return kExitRunFailed;
    }
  }
  if (vm.count("json")) {
    out << summary.dump(2) << "\n";
  } else {
    out << "bundle " << path << ": " << bundle.model << " (" << bundle.step << ")\n";
    printRunText(config, result.run, options.timingOnly, out);
    for (const auto& o : result.outputs)
      if (o.data.size() == 1) out << "  " << o.name << " = " << o.data[0] << "\n";
  }
  if (!result.run.error.empty()) {
    err << "tatami run: " << result.run.error << "\n";
    return kExitRunFailed;
  }
  return kExitOk;
}

/// --core ID=FILE: the core id (a number or "(row,col)").
int coreOf(const std::string& spec, const ArchConfig& config) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) throw UsageError("--core '" + spec + "': expected ID=FILE, e.g. 5=b.tasm or (0,5)=b.tasm");
  const std::string id = spec.substr(0, eq);
  try {
    if (!id.empty() && id[0] == '(') {
      const GridPosList p = parseGridPosList(id);
      if (p.size() != 1) throw ConfigError("");
      return p[0].row * int(config.die.cols * config.system.die_cols) + p[0].col;
    }
    return std::stoi(id);
  } catch (const std::exception&) {
    throw UsageError("--core '" + spec + "': '" + id + "' is not a core id or (row,col)");
  }
}

/// --waves-window FROM:TO.
void setWavesWindow(const std::string& window, runtime::RunOptions& options) {
  const auto colon = window.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument("");
    options.rtlWavesFrom = std::stoull(window.substr(0, colon));
    options.rtlWavesTo = std::stoull(window.substr(colon + 1));
  } catch (const std::exception&) {
    throw UsageError("--waves-window '" + window + "': expected FROM:TO, e.g. 0:2000");
  }
  if (options.rtlWavesTo <= options.rtlWavesFrom) throw UsageError("--waves-window '" + window + "': TO must be above FROM");
}

}  // namespace

int cmdRun(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  MachineOptions machine;
  std::string programPath, inputPath, outputPath, tracePath, wavesPrefix, wavesWindow;
  std::vector<std::string> dumps, corePrograms;
  desc.add_options()
      ("help,h", "show this help")
      ("program", po::value<std::string>(&programPath), "program file (.tasm text or binary), or a bundle from tatami compile -o")
      ("input", po::value<std::string>(&inputPath)->value_name("FILE.h5"),
       "initial SRAM regions: HDF5 datasets with an 'address' attribute (applied after .init); for a bundle, full "
       "tensors by name (arrays as tatami train writes them)")
      ("output", po::value<std::string>(&outputPath)->value_name("FILE.h5"),
       "write the program's .output regions and --dump regions to HDF5, with the resolved config; for a bundle, its "
       "output tensors put together")
      ("dump", po::value<std::vector<std::string>>(&dumps)->composing()->value_name("NAME=ADDR:TYPE:SHAPE"),
       "also read back this SRAM region (repeatable), e.g. C=0x40000:f32:256x256")
      ("core", po::value<std::vector<std::string>>(&corePrograms)->composing()->value_name("ID=FILE"),
       "also run FILE on core ID (repeatable); ID is a core id or (row,col); PROGRAM runs on the first core")
      ("json", "print one JSON object instead of the text report")
      ("trace", po::value<std::string>(&tracePath)->value_name("FILE.json"),
       "write a Perfetto (trace-event JSON) trace: a track per core thread and unit")
      ("timing-only", "skip floating-point values (integer and index data are still computed); same cycles")
      ("waves", po::value<std::string>(&wavesPrefix)->value_name("PREFIX"),
       "on RTL cores: write each one's verilated blocks' ports as VCD (PREFIX.core<ID>.vector.vcd, .matrix.vcd; time in half cycles)")
      ("waves-window", po::value<std::string>(&wavesWindow)->value_name("FROM:TO"),
       "with --waves: only the instructions starting in core cycles [FROM, TO)")
      ("rtl-check", "on RTL cores (--set sim.rtl_cores=all|listed): compute every RTL instruction with the reference "
                    "semantics and the timing model too; a difference in a value or in cycles stops the run, naming it");
  machine.addTo(desc);
  po::positional_options_description pos;
  pos.add("program", 1);
  po::variables_map vm;
  if (!parseArgs(args, desc, &pos, vm,
                 "Usage: tatami run PROGRAM|BUNDLE [--json] [--timing-only] [--input F.h5] [--output F.h5] [--dump ...]\n"
                 "Run a program on one core of the modelled machine, or a compiled bundle on its cores.",
                 out))
    return kExitOk;
  if (programPath.empty()) throw UsageError("no program given");
  if (runtime::isBundleFile(programPath)) {
    if (!corePrograms.empty() || !dumps.empty() || !tracePath.empty()) throw UsageError("--core, --dump and --trace do not apply to a bundle");
    return runBundleFile(programPath, machine, vm, inputPath, outputPath, out, err);
  }
  const ArchConfig config = machine.resolve();
  Program program;
  try {
    program = loadProgramFile(programPath);
  } catch (const ProgramError& e) {
    err << "tatami run: " << e.what() << "\n";
    return kExitBadInput;
  }
  // Further programs on other cores.
  std::vector<std::pair<int, Program>> more;
  for (const auto& spec : corePrograms) {
    const int core = coreOf(spec, config);
    try {
      more.emplace_back(core, loadProgramFile(spec.substr(spec.find('=') + 1)));
    } catch (const ProgramError& e) {
      err << "tatami run: " << e.what() << "\n";
      return kExitBadInput;
    }
  }
  runtime::RunOptions options;
  options.timingOnly = vm.count("timing-only") > 0;
  options.trace = !tracePath.empty();
  options.rtlCheck = vm.count("rtl-check") > 0;
  options.rtlWaves = wavesPrefix;
  if (!wavesWindow.empty()) setWavesWindow(wavesWindow, options);
  for (const auto& d : dumps) options.dumps.push_back(parseDump(d));
  try {
    if (!inputPath.empty()) options.inputs = runtime::readSramImages(inputPath);
  } catch (const std::runtime_error& e) {
    err << "tatami run: " << e.what() << "\n";
    return kExitBadInput;
  }
  runtime::RunResult result;
  try {
    std::vector<runtime::CoreProgram> programs = {{tatami::tlm::Network::activeNodes(config).front(), &program}};
    for (const auto& [core, p] : more) programs.push_back({core, &p});
    result = runtime::runPrograms(config, programs, options);
  } catch (const std::runtime_error& e) {
    err << "tatami run: " << e.what() << "\n";
    return kExitBadInput;
  }
  // Whatever was computed is reported and written, even when the program faulted.
  const auto summary = runJson(config, result, options.timingOnly);
  if (!outputPath.empty())
    runtime::writeSramImages(outputPath, result.outputs,
                             {{"config", toIni(config)}, {"program", programPath}, {"summary", summary.dump()}});
  // The summary attribute carries the per-link and per-die-edge statistics (see "network").
  if (!tracePath.empty()) {
    std::ofstream f(tracePath);
    f << traceJson(config, result);
    if (!f) err << "tatami run: cannot write '" << tracePath << "'\n";
  }
  if (vm.count("json")) out << summary.dump(2) << "\n";
  else printRunText(config, result, options.timingOnly, out);
  if (!result.error.empty()) {
    err << "tatami run: " << result.error << "\n";
    return kExitRunFailed;
  }
  return kExitOk;
}

int cmdAsm(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  std::string in, outPath;
  desc.add_options()
      ("help,h", "show this help")
      ("program", po::value<std::string>(&in), "program file (.tasm text or binary)")
      ("output,o", po::value<std::string>(&outPath)->value_name("FILE"),
       "write FILE: text if it ends in .tasm, binary otherwise; without -o, print the text");
  po::positional_options_description pos;
  pos.add("program", 1);
  po::variables_map vm;
  if (!parseArgs(args, desc, &pos, vm,
                 "Usage: tatami asm PROGRAM [-o OUT]\nCheck a program and convert it between text (.tasm) and binary.", out))
    return kExitOk;
  if (in.empty()) throw UsageError("no program given");
  Program program;
  try {
    program = loadProgramFile(in);
  } catch (const ProgramError& e) {
    err << "tatami asm: " << e.what() << "\n";
    return kExitBadInput;
  }
  if (outPath.empty()) {
    out << disassemble(program);
    return kExitOk;
  }
  std::ofstream f(outPath, std::ios::binary);
  if (outPath.size() >= 5 && outPath.compare(outPath.size() - 5, 5, ".tasm") == 0) {
    f << disassemble(program);
  } else {
    const auto bytes = encodeBinary(program);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  if (!f) {
    err << "tatami asm: cannot write '" << outPath << "'\n";
    return kExitRunFailed;
  }
  return kExitOk;
}

}  // namespace tatami::cli
