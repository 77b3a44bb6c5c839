// The text form of programs (.tasm): assembling, disassembling, and the text of one instruction.
// The syntax is in docs/isa.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tatami/arch/program.h"

namespace tatami {

/// Assembles .tasm text. `origin` (a file name) starts every error message. Throws ProgramError.
Program assemble(const std::string& text, const std::string& origin);

/// Writes a program as .tasm text that assembles back to an equal Program.
std::string disassemble(const Program& program);

/// Comments to print before instructions, by their pc (a compiler's notes on what each op made).
using ProgramNotes = std::map<std::uint32_t, std::vector<std::string>>;

/// A program with names for all its branch targets and thread entries (a compiler's output) as
/// .tasm text: `header` as a first comment, its directives, then its code with `notes` before the
/// instructions they name. Assembles to an equal Program.
std::string annotatedText(const Program& program, const ProgramNotes& notes, const std::string& header);

/// One instruction as text (branch targets by label name when `program` is given).
std::string instructionText(const Instruction& inst, const Program* program = nullptr);

/// Reads a program file: binary if it starts with the binary magic, text otherwise.
Program loadProgramFile(const std::string& path);

}  // namespace tatami
