// The typed instruction emitter the lowering writes programs with. Instructions are
// built as tatami::Instruction values from an opcode, its element type(s) and typed operands,
// checked against the opcode's operand letters (arch/ops.def) as they are emitted; labels are
// resolved when the program is finished. The .tasm text (with the lowering's notes as comments)
// is made from the program, never parsed back. Register and semaphore use: docs/abi.md.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <type_traits>
#include <string>
#include <vector>

#include "tatami/arch/assembler.h"
#include "tatami/arch/program.h"

namespace tatami::compiler {

/// A register operand r0..r31.
struct Reg {
  std::uint8_t n = 0;
};
constexpr Reg R(int n) { return Reg{std::uint8_t(n)}; }

/// A label: a place in the program, bound once, usable before it is bound.
struct LabelId {
  int id = -1;
};

/// A memory operand [base + offset].
struct Mem {
  Reg base;
  std::int64_t offset = 0;
};

/// The semaphore operand of an asynchronous DMA that signals none.
constexpr std::int64_t kNoSemaphore = -1;

/// An operand as written: a register, a number (an immediate or a small literal, as the opcode's
/// operand letter says), a label, or a memory reference.
class Operand {
 public:
  enum class Kind { Register, Number, Label, Memory };
  Operand(Reg r) : kind_(Kind::Register), reg_(r.n) {}
  template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int>>>
  Operand(Int v) : kind_(Kind::Number), value_(std::int64_t(v)) {}
  Operand(LabelId l) : kind_(Kind::Label), value_(l.id) {}
  Operand(Mem m) : kind_(Kind::Memory), reg_(m.base.n), value_(m.offset) {}
  Kind kind() const { return kind_; }
  std::uint8_t reg() const { return reg_; }
  std::int64_t value() const { return value_; }

 private:
  Kind kind_;
  std::uint8_t reg_ = 0;
  std::int64_t value_ = 0;
};

class Emitter {
 public:
  /// Appends one instruction. `type2` is the source type of vcvt and vcvtsr. Throws CompileError
  /// (internal) when the operands do not match the opcode's letters or its type set.
  void emit(tatami::Op op, DType type, std::initializer_list<Operand> operands, DType type2 = DType::None);
  void emit(tatami::Op op, std::initializer_list<Operand> operands) { emit(op, DType::None, operands); }

  LabelId newLabel();
  /// Binds the label to the next instruction.
  void bind(LabelId label);
  /// A comment shown before the next instruction in the program's text.
  void note(const std::string& text);
  void init(std::uint64_t addr, DType type, std::vector<double> values);
  void output(const std::string& name, std::uint64_t addr, DType type, std::vector<std::uint64_t> shape);
  std::uint32_t pc() const { return std::uint32_t(program_.code.size()); }
  const std::vector<Instruction>& code() const { return program_.code; }
  /// Appends another emitter's code (its labels and notes moved to their new place) and
  /// directives, each instruction first passed through `fix`.
  void append(const Emitter& other, const std::function<void(Instruction&)>& fix = {});
  /// Hardware thread `thread` starts at the next instruction (a .thread directive).
  void startThread(int thread);

  /// The finished program (labels resolved). Throws CompileError for a label never bound.
  Program finish() const&;
  /// The same, taking the program instead of copying it (the emitter is done with).
  Program finish() &&;
  /// The program as .tasm text: `header` as a first comment, then its directives and code with
  /// the notes; assembles to finish().
  std::string text(const std::string& header) const;
  /// The notes by pc, as text() prints them.
  const ProgramNotes& notes() const { return notes_; }

 private:
  Program program_;
  std::vector<std::int64_t> labelPc_;                     // by label id; -1 until bound
  std::vector<std::pair<std::uint32_t, int>> labelUses_;  // (pc, label id) to resolve
  ProgramNotes notes_;
  Program resolved(Program p) const;  // labels named and branch targets filled in
};

}  // namespace tatami::compiler
