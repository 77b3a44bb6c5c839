// libFuzzer target: the assembler (.tasm text) and the disassembler of what it accepts. A
// ProgramError is the expected answer to bad input; anything else is a finding.
#include <cstdint>
#include <string>

#include "tatami/arch/assembler.h"
#include "tatami/arch/program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tatami::Program p = tatami::assemble(std::string(reinterpret_cast<const char*>(data), size), "fuzz.tasm");
    (void)tatami::disassemble(p);
  } catch (const tatami::ProgramError&) {
  }
  return 0;
}
