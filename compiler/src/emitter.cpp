// The typed instruction emitter: operands checked against the opcode table, labels resolved,
// the text made from the program.
#include "tatami/compiler/emitter.h"


#include "tatami/arch/assembler.h"
#include "tatami/compiler/ir.h"

namespace tatami::compiler {

namespace {

[[noreturn]] void bad(tatami::Op op, const std::string& why) {
  throw CompileError(std::string("internal: emitting '") + tatami::opInfo(op).mnemonic + "': " + why);
}

}  // namespace

void Emitter::emit(tatami::Op op, DType type, std::initializer_list<Operand> operands, DType type2) {
  const tatami::OpInfo& info = tatami::opInfo(op);
  const std::string letters = info.operands;
  if (operands.size() != letters.size())
    bad(op, "takes " + std::to_string(letters.size()) + " operands, got " + std::to_string(operands.size()));
  if (info.types == TypeSet::NONE ? type != DType::None : !typeAllowed(info.types, type)) bad(op, std::string("type ") + dtypeName(type));
  Instruction inst;
  inst.op = op, inst.type = type, inst.type2 = type2;
  std::size_t field = 0;
  const auto* o = operands.begin();
  for (char letter : letters) {
    const Operand& x = *o++;
    const auto need = [&](Operand::Kind k, const char* what) {
      if (x.kind() != k) bad(op, std::string("operand ") + std::to_string(o - operands.begin()) + " must be " + what);
    };
    switch (letter) {
      case 'd': need(Operand::Kind::Register, "a register"), inst.r[field++] = x.reg(); break;
      case 'x':
        if (x.kind() == Operand::Kind::Register) {
          inst.r[field++] = x.reg();
        } else {
          need(Operand::Kind::Number, "a register or a number");
          inst.immOperand = true, inst.imm = x.value(), ++field;
        }
        break;
      case 's':
        need(Operand::Kind::Number, "a literal");
        if (x.value() < 0 || x.value() > 255) bad(op, "literal " + std::to_string(x.value()) + " is not in 0..255");
        inst.r[field++] = std::uint8_t(x.value());
        break;
      case 'i': need(Operand::Kind::Number, "a number"), inst.imm = x.value(); break;
      case 'L': need(Operand::Kind::Label, "a label"), labelUses_.emplace_back(pc(), int(x.value())); break;
      case 'M': need(Operand::Kind::Memory, "a memory operand"), inst.r[field++] = x.reg(), inst.imm = x.value(); break;
      default: bad(op, std::string("unknown operand letter ") + letter);
    }
  }
  program_.code.push_back(inst);
}

LabelId Emitter::newLabel() {
  labelPc_.push_back(-1);
  return LabelId{int(labelPc_.size()) - 1};
}

void Emitter::bind(LabelId label) {
  labelPc_.at(std::size_t(label.id)) = pc();
}

void Emitter::note(const std::string& text) { notes_[pc()].push_back(text); }

void Emitter::init(std::uint64_t addr, DType type, std::vector<double> values) {
  InitBlock b;
  b.addr = std::uint32_t(addr), b.type = type, b.values = std::move(values);
  program_.inits.push_back(std::move(b));
}

void Emitter::output(const std::string& name, std::uint64_t addr, DType type, std::vector<std::uint64_t> shape) {
  program_.outputs.push_back({name, std::uint32_t(addr), type, std::move(shape)});
}

void Emitter::append(const Emitter& other, const std::function<void(Instruction&)>& fix) {
  const std::uint32_t base = pc();
  const int labelBase = int(labelPc_.size());
  for (Instruction inst : other.program_.code) {
    if (fix) fix(inst);
    program_.code.push_back(inst);
  }
  for (std::int64_t at : other.labelPc_) labelPc_.push_back(at < 0 ? -1 : at + base);
  for (const auto& [at, id] : other.labelUses_) labelUses_.emplace_back(at + base, id + labelBase);
  for (const auto& block : other.program_.inits) program_.inits.push_back(block);
  for (const auto& decl : other.program_.outputs) program_.outputs.push_back(decl);
  for (const auto& [at, texts] : other.notes_)
    for (const auto& t : texts) notes_[at + base].push_back(t);
}

void Emitter::startThread(int thread) {
  const LabelId start = newLabel();
  bind(start);
  program_.threads.push_back({thread, pc()});
}

Program Emitter::finish() const& { return resolved(program_); }

Program Emitter::finish() && { return resolved(std::move(program_)); }

Program Emitter::resolved(Program p) const {
  // Every bound label, named by its id.
  for (std::size_t id = 0; id < labelPc_.size(); ++id)
    if (labelPc_[id] >= 0) p.labels.push_back({"L" + std::to_string(id), std::uint32_t(labelPc_[id])});
  for (const auto& [at, id] : labelUses_) {
    if (labelPc_.at(std::size_t(id)) < 0) throw CompileError("internal: label L" + std::to_string(id) + " is used but never bound");
    p.code[at].imm = labelPc_[std::size_t(id)];
  }
  return p;
}

std::string Emitter::text(const std::string& header) const { return annotatedText(finish(), notes_, header); }

}  // namespace tatami::compiler
