// The tile ISA: opcodes, element types, the fixed 16-byte instruction and the opcode table.
// Semantics: semantics.h (the reference executor); text form: assembler.h; docs/isa.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace tatami {

enum class Op : std::uint8_t {
#define TATAMI_OP(name, mnemonic, unit, operands, types) name,
#include "tatami/arch/ops.def"
#undef TATAMI_OP
  Count
};

/// The unit an instruction occupies.
enum class Unit : std::uint8_t { Scalar, Sync, Vector, Matrix, Dma };
constexpr int kUnitCount = 5;
const char* unitName(Unit u);

/// Element types of vector and matrix operands.
enum class DType : std::uint8_t { None = 0, F32, Bf16, E4m3, E5m2, I32 };
const char* dtypeName(DType t);
/// Bytes per element.
int dtypeSize(DType t);
bool isFloat(DType t);

enum class TypeSet : std::uint8_t { NONE, FLOAT, FI, F32, I32, MATRIX, CFP8, TR, CVT };
bool typeAllowed(TypeSet set, DType t);

/// One instruction: 16 bytes in the binary form.
struct Instruction {
  Op op = Op::Nop;
  DType type = DType::None;   ///< the element type (destination type for vcvt)
  DType type2 = DType::None;  ///< the source type of vcvt/vcvtsr
  bool immOperand = false;    ///< the 'x' operand is the immediate, not a register
  std::array<std::uint8_t, 6> r{};  ///< register / literal fields, in operand order
  std::int64_t imm = 0;
  bool operator==(const Instruction& o) const {
    return op == o.op && type == o.type && type2 == o.type2 && immOperand == o.immOperand && r == o.r && imm == o.imm;
  }
};

struct OpInfo {
  const char* mnemonic;
  Unit unit;
  const char* operands;
  TypeSet types;
};

const OpInfo& opInfo(Op op);
/// The opcode with this mnemonic (without type suffixes); false if none.
bool findOp(const std::string& mnemonic, Op& op);

constexpr int kRegisters = 32;
constexpr int kThreadsMax = 4;
constexpr int kSemaphores = 64;
constexpr int kVectorBytes = 64;
/// SRAM byte addresses are 24 bits wide (core.sram_kib is at most 16384).
constexpr std::uint64_t kSramAddressLimit = std::uint64_t(1) << 24;
/// The matrix instruction's C tile is kMmaTile x kMmaTile FP32.
constexpr int kMmaTile = 16;
constexpr std::int64_t kMmaMaxK = 4096;

}  // namespace tatami
