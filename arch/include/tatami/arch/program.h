// The program container: one core's code plus its directives (thread entry points, initial SRAM
// contents, declared outputs). Text form (.tasm): assembler.h. Binary form: below.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "tatami/arch/isa.h"

namespace tatami {

/// A label: a name for an instruction index.
struct Label {
  std::string name;
  std::uint32_t pc = 0;
  bool operator==(const Label& o) const { return name == o.name && pc == o.pc; }
};

/// `.thread N label`: hardware thread N starts at pc when the core starts.
struct ThreadEntry {
  int thread = 0;
  std::uint32_t pc = 0;
  bool operator==(const ThreadEntry& o) const { return thread == o.thread && pc == o.pc; }
};

/// `.init`: initial SRAM contents, either listed values or seeded uniform random values.
struct InitBlock {
  enum class Kind : std::uint8_t { Values, Random };
  std::uint32_t addr = 0;
  DType type = DType::F32;
  Kind kind = Kind::Values;
  std::vector<double> values;  ///< Values
  std::uint64_t count = 0;     ///< Random: number of elements
  std::uint64_t seed = 0;
  double lo = 0, hi = 1;       ///< Random: uniform in [lo, hi)
  bool operator==(const InitBlock& o) const {
    return addr == o.addr && type == o.type && kind == o.kind && values == o.values && count == o.count &&
           seed == o.seed && lo == o.lo && hi == o.hi;
  }
  std::uint64_t elementCount() const { return kind == Kind::Values ? values.size() : count; }
};

/// `.output`: an SRAM region that `tatami run` writes out, with its logical shape.
struct OutputDecl {
  std::string name;
  std::uint32_t addr = 0;
  DType type = DType::F32;
  std::vector<std::uint64_t> shape;
  std::uint64_t elementCount() const;
  bool operator==(const OutputDecl& o) const {
    return name == o.name && addr == o.addr && type == o.type && shape == o.shape;
  }
};

struct Program {
  std::vector<Instruction> code;
  std::vector<Label> labels;
  std::vector<ThreadEntry> threads;  ///< thread 0 starts at pc 0 unless listed
  std::vector<InitBlock> inits;
  std::vector<OutputDecl> outputs;
  bool operator==(const Program& o) const {
    return code == o.code && labels == o.labels && threads == o.threads && inits == o.inits && outputs == o.outputs;
  }
};

/// A malformed program: the message starts with "file:line:" (text) or "file: offset N:" (binary).
class ProgramError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The binary form's format version; a loader refuses any other.
constexpr std::uint32_t kProgramFormatVersion = 1;

std::vector<std::uint8_t> encodeBinary(const Program& program);
Program decodeBinary(const std::vector<std::uint8_t>& bytes, const std::string& origin);

/// The value of element `index` of a random `.init` block, as FP32 (or integer for i32).
double initRandomValue(const InitBlock& block, std::uint64_t index);
/// All `count` values of a random `.init` block (the same as initRandomValue for each index).
void initRandomValues(const InitBlock& block, double* out);

}  // namespace tatami
