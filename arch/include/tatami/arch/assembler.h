// The text form of programs (.tasm): assembling, disassembling, and the text of one instruction.
// The syntax is in docs/isa.md.
#pragma once

#include <string>

#include "tatami/arch/program.h"

namespace tatami {

/// Assembles .tasm text. `origin` (a file name) starts every error message. Throws ProgramError.
Program assemble(const std::string& text, const std::string& origin);

/// Writes a program as .tasm text that assembles back to an equal Program.
std::string disassemble(const Program& program);

/// One instruction as text (branch targets by label name when `program` is given).
std::string instructionText(const Instruction& inst, const Program* program = nullptr);

/// Reads a program file: binary if it starts with the binary magic, text otherwise.
Program loadProgramFile(const std::string& path);

}  // namespace tatami
