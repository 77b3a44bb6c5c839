// The op table: lookups by enum and by name, and its Markdown form for docs/compiler.md.
#include "tatami/compiler/ops.h"

#include "tatami/compiler/ir.h"

#include <sstream>

namespace tatami::compiler {

const std::vector<OpInfo>& opTable() {
  static const std::vector<OpInfo> table = {
#define TATAMI_OP(name, minIn, maxIn, traits, attrs, meaning, gradient) {Op::name, #name, minIn, maxIn, traits, attrs, meaning, gradient},
#include "tatami/compiler/ops.def"
#undef TATAMI_OP
  };
  return table;
}

const OpInfo& opInfo(Op op) { return opTable()[std::size_t(op)]; }

const char* opName(Op op) { return opInfo(op).name; }

bool findOp(const std::string& name, Op& op) {
  for (const OpInfo& i : opTable())
    if (name == i.name) {
      op = i.op;
      return true;
    }
  return false;
}

Op opFromName(const std::string& name) {
  Op op;
  if (findOp(name, op)) return op;
  std::string known;
  for (const OpInfo& i : opTable()) known += std::string(known.empty() ? "" : " ") + i.name;
  throw CompileError("unknown op '" + name + "' (known: " + known + ")");
}

std::string opTableMarkdown() {
  std::ostringstream os;
  os << "| op | operands | attributes | kind | meaning | gradient |\n|---|---|---|---|---|---|\n";
  for (const OpInfo& i : opTable()) {
    std::string kind;
    const auto add = [&](OpTrait t, const char* word) {
      if (i.has(t)) kind += (kind.empty() ? "" : ", ") + std::string(word);
    };
    add(kElementwise, "elementwise");
    add(kSpatial, "spatial");
    add(kChannel, "per channel");
    add(kCollective, "collective");
    const std::string operands = i.maxInputs < 0 ? std::to_string(i.minInputs) + " or more" : std::to_string(i.minInputs);
    os << "| `" << i.name << "` | " << operands << " | " << i.attributes << " | " << kind << " | " << i.meaning << " | "
       << i.gradient << " |\n";
  }
  return os.str();
}

}  // namespace tatami::compiler
