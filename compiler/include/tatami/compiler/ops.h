// The IR's op table (ops.def): each op declared once, as a typed enum with its traits, operand
// counts, attributes and the documentation of its meaning and gradient. Passes switch on `Op` or
// ask for a trait; no pass compares op names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tatami::compiler {

enum class Op : std::uint8_t {
#define TATAMI_OP(name, minIn, maxIn, traits, attrs, meaning, gradient) name,
#include "tatami/compiler/ops.def"
#undef TATAMI_OP
};

/// What kind of op it is; the passes decide by these bits.
enum OpTrait : std::uint32_t {
  kUnary = 1u << 0,           ///< elementwise on one operand
  kBinary = 1u << 1,          ///< elementwise on two operands, numpy broadcasting
  kElementwise = 1u << 2,     ///< each output element depends on the same position of each operand
  kSpatial = 1u << 3,         ///< convolution, pooling and indexing (ops_spatial.cpp)
  kChannel = 1u << 4,         ///< NCHW op: splits over examples and channels on a grid
  kCollective = 1u << 5,      ///< communication between cores (inserted by the compiler)
  kDifferentiable = 1u << 6,  ///< autodiff has a gradient rule for it
};

struct OpInfo {
  Op op;
  const char* name;
  int minInputs, maxInputs;  ///< maxInputs -1: any number
  std::uint32_t traits;
  const char* attributes;  ///< comma-separated, "" for none
  const char* meaning;
  const char* gradient;  ///< the rule autodiff applies, or "none"
  bool has(OpTrait t) const { return (traits & t) != 0; }
};

/// Every op, in declaration order.
const std::vector<OpInfo>& opTable();
const OpInfo& opInfo(Op op);
const char* opName(Op op);
inline bool opHas(Op op, OpTrait t) { return opInfo(op).has(t); }
/// The op called `name`; throws CompileError naming it when there is none.
Op opFromName(const std::string& name);
/// True and sets `op` when `name` is an op.
bool findOp(const std::string& name, Op& op);
/// The table as Markdown (the list in docs/compiler.md).
std::string opTableMarkdown();

}  // namespace tatami::compiler
