// The opcode table, generated from ops.def.
#include "tatami/arch/isa.h"

#include <unordered_map>

namespace tatami {

namespace {

const OpInfo kOps[] = {
#define TATAMI_OP(name, mnemonic, unit, operands, types) {mnemonic, Unit::unit, operands, TypeSet::types},
#include "tatami/arch/ops.def"
#undef TATAMI_OP
};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == std::size_t(Op::Count));

}  // namespace

const char* unitName(Unit u) {
  switch (u) {
    case Unit::Scalar: return "scalar";
    case Unit::Sync: return "sync";
    case Unit::Vector: return "vector";
    case Unit::Matrix: return "matrix";
    case Unit::Dma: return "dma";
  }
  return "?";
}

const char* dtypeName(DType t) {
  switch (t) {
    case DType::None: return "";
    case DType::F32: return "f32";
    case DType::Bf16: return "bf16";
    case DType::E4m3: return "e4m3";
    case DType::E5m2: return "e5m2";
    case DType::I32: return "i32";
  }
  return "?";
}

int dtypeSize(DType t) {
  switch (t) {
    case DType::F32:
    case DType::I32: return 4;
    case DType::Bf16: return 2;
    case DType::E4m3:
    case DType::E5m2: return 1;
    case DType::None: return 0;
  }
  return 0;
}

bool isFloat(DType t) { return t == DType::F32 || t == DType::Bf16 || t == DType::E4m3 || t == DType::E5m2; }

bool typeAllowed(TypeSet set, DType t) {
  switch (set) {
    case TypeSet::NONE: return t == DType::None;
    case TypeSet::FLOAT: return isFloat(t);
    case TypeSet::FI: return isFloat(t) || t == DType::I32;
    case TypeSet::F32: return t == DType::F32;
    case TypeSet::I32: return t == DType::I32;
    case TypeSet::MATRIX: return t == DType::Bf16 || t == DType::E4m3 || t == DType::E5m2;
    case TypeSet::CFP8: return t == DType::E4m3 || t == DType::E5m2;
    case TypeSet::TR: return t == DType::F32 || t == DType::Bf16 || t == DType::I32;
    case TypeSet::CVT: return t != DType::None;
  }
  return false;
}

const OpInfo& opInfo(Op op) { return kOps[std::size_t(op)]; }

bool findOp(const std::string& mnemonic, Op& op) {
  static const std::unordered_map<std::string, Op> byName = [] {
    std::unordered_map<std::string, Op> m;
    for (std::size_t i = 0; i < std::size_t(Op::Count); ++i) m.emplace(kOps[i].mnemonic, Op(i));
    return m;
  }();
  const auto it = byName.find(mnemonic);
  if (it == byName.end()) return false;
  op = it->second;
  return true;
}

}  // namespace tatami
