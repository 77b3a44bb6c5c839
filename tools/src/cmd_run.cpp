// `tatami run`: runs a program on the modelled machine and reports cycles and unit statistics.
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "command.h"
#include "run_bundle_file.h"
#include "run_options.h"
#include "run_report.h"
#include "trace_json.h"
#include "tatami/runtime/output_file.h"
#include "tatami/arch/assembler.h"
#include "tatami/runtime/bundle.h"
#include "tatami/runtime/hdf5_io.h"
#include "tatami/arch/config_files.h"
#include "tatami/tlm/network.h"

namespace tatami::cli {

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
  for (const std::string* path : {&outputPath, &tracePath})  // before the run, not after it
    if (!path->empty()) runtime::checkOutputPath(*path);
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
    runtime::writeOutputFile(tracePath, traceJson(config, result));
  }
  if (vm.count("json")) out << summary.dump(2) << "\n";
  else printRunText(config, result, options.timingOnly, out);
  if (!result.error.empty()) {
    err << "tatami run: " << result.error << "\n";
    return kExitRunFailed;
  }
  return kExitOk;
}

}  // namespace tatami::cli
