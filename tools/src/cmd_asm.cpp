// `tatami asm`: checks a program and converts it between text (.tasm) and binary.
#include <fstream>
#include <ostream>

#include "command.h"
#include "tatami/runtime/output_file.h"
#include "tatami/arch/assembler.h"

namespace tatami::cli {

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
  if (outPath.size() >= 5 && outPath.compare(outPath.size() - 5, 5, ".tasm") == 0) {
    runtime::writeOutputFile(outPath, disassemble(program));
  } else {
    const auto bytes = encodeBinary(program);
    runtime::writeOutputFile(outPath, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  return kExitOk;
}

}  // namespace tatami::cli
