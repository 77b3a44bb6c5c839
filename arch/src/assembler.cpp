// The .tasm assembler and disassembler. Two passes: the first collects labels and constants, the
// second encodes instructions, so labels may be used before they are defined.
#include "tatami/arch/assembler.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

namespace tatami {

namespace {

struct Token {
  std::string text;
  int col = 0;  // 1-based
};

struct Line {
  int number = 0;
  std::string label;
  int labelCol = 0;
  std::vector<Token> words;  // mnemonic or directive, then operands (split at commas/space)
};

class Asm {
 public:
  Asm(const std::string& origin) : origin_(origin) {}
  Program run(const std::string& text);

 private:
  [[noreturn]] void fail(int line, int col, const std::string& msg) const {
    throw ProgramError(origin_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + msg);
  }
  Line split(const std::string& raw, int number) const;
  std::int64_t eval(const Token& t, int line) const;
  int reg(const Token& t, int line) const;
  DType type(const std::string& s, int line, int col) const;
  void directive(const Line& l, Program& p);
  Instruction instruction(const Line& l, Program& p);

  std::string origin_;
  std::map<std::string, std::int64_t> constants_;
  std::map<std::string, std::uint32_t> labels_;
};

bool isIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isIdent(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

Line Asm::split(const std::string& raw, int number) const {
  Line l;
  l.number = number;
  std::string s = raw;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == ';' || s[i] == '#') {
      s.resize(i);
      break;
    }
  std::size_t i = 0;
  const auto skip = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  skip();
  // An optional "label:" first.
  std::size_t j = i;
  while (j < s.size() && isIdent(s[j])) ++j;
  if (j > i && j < s.size() && s[j] == ':' && isIdentStart(s[i])) {
    l.label = s.substr(i, j - i);
    l.labelCol = int(i) + 1;
    i = j + 1;
  }
  skip();
  // The mnemonic, then operands separated by commas (a memory operand keeps its brackets).
  while (i < s.size()) {
    skip();
    if (i >= s.size()) break;
    Token t;
    t.col = int(i) + 1;
    if (l.words.empty()) {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) t.text += s[i++];
    } else {
      int depth = 0;
      while (i < s.size() && (depth > 0 || s[i] != ',')) {
        if (s[i] == '[' || s[i] == '(') ++depth;
        if (s[i] == ']' || s[i] == ')') --depth;
        t.text += s[i++];
      }
      while (!t.text.empty() && std::isspace(static_cast<unsigned char>(t.text.back()))) t.text.pop_back();
      if (i < s.size() && s[i] == ',') ++i;
      if (t.text.empty()) fail(number, t.col, "empty operand");
    }
    l.words.push_back(t);
    // Directives take space-separated arguments: split the rest on spaces too.
    if (l.words.size() == 1 && !t.text.empty() && t.text[0] == '.') {
      while (i < s.size()) {
        skip();
        if (i >= s.size()) break;
        Token a;
        a.col = int(i) + 1;
        while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) && s[i] != ',') a.text += s[i++];
        if (i < s.size() && s[i] == ',') ++i;
        l.words.push_back(a);
      }
    }
  }
  return l;
}

// Integer expressions: literals (decimal, 0x hex), .equ constants, + - * / << >> and parentheses.
std::int64_t Asm::eval(const Token& t, int line) const {
  const std::string& s = t.text;
  std::size_t i = 0;
  std::function<std::int64_t()> expr, term, unary;
  const auto skip = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  const auto bad = [&](const std::string& why) { fail(line, t.col + int(i), why + " in '" + s + "'"); };
  // Every step is checked: a result outside 64 bits is an error, not a wrap (or a trap).
  const auto checked = [&](bool overflowed, std::int64_t v) {
    if (overflowed) bad("a value outside 64 bits");
    return v;
  };
  int depth = 0;  // nested parentheses and signs, bounded so that no input exhausts the stack
  constexpr int kMaxDepth = 64;
  unary = [&]() -> std::int64_t {
    skip();
    if (i >= s.size()) bad("expected a number");
    if (++depth > kMaxDepth) bad("more than " + std::to_string(kMaxDepth) + " nested parentheses or signs");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth};
    if (s[i] == '-') {
      ++i;
      std::int64_t r = 0;
      const std::int64_t x = unary();
      const bool over = __builtin_sub_overflow(std::int64_t(0), x, &r);
      return checked(over, r);
    }
    if (s[i] == '+') { ++i; return unary(); }
    if (s[i] == '(') {
      ++i;
      const std::int64_t v = expr();
      skip();
      if (i >= s.size() || s[i] != ')') bad("expected ')'");
      ++i;
      return v;
    }
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      std::size_t used = 0;
      std::uint64_t v;
      try {
        v = std::stoull(s.substr(i), &used, 0);
      } catch (const std::exception&) {
        bad("number out of range");
        return 0;
      }
      i += used;
      if (i < s.size() && isIdent(s[i])) bad("malformed number");
      return std::int64_t(v);
    }
    if (isIdentStart(s[i])) {
      std::size_t j = i;
      while (j < s.size() && isIdent(s[j])) ++j;
      const std::string name = s.substr(i, j - i);
      const auto c = constants_.find(name);
      if (c == constants_.end()) bad("unknown name '" + name + "'");
      i = j;
      return c->second;
    }
    bad("unexpected character");
    return 0;
  };
  term = [&]() -> std::int64_t {
    std::int64_t v = unary();
    for (;;) {
      skip();
      if (i < s.size() && s[i] == '*') {
        ++i;
        const std::int64_t x = unary();
        const bool over = __builtin_mul_overflow(v, x, &v);
        checked(over, v);
      } else if (i < s.size() && s[i] == '/') {
        ++i;
        const std::int64_t d = unary();
        if (d == 0) bad("division by zero");
        if (d == -1 && v == std::numeric_limits<std::int64_t>::min()) bad("a value outside 64 bits");
        v /= d;
      } else return v;
    }
  };
  expr = [&]() -> std::int64_t {
    std::int64_t v = term();
    for (;;) {
      skip();
      if (i < s.size() && s[i] == '+') {
        ++i;
        const std::int64_t x = term();
        const bool over = __builtin_add_overflow(v, x, &v);
        checked(over, v);
      } else if (i < s.size() && s[i] == '-') {
        ++i;
        const std::int64_t x = term();
        const bool over = __builtin_sub_overflow(v, x, &v);
        checked(over, v);
      } else if (i + 1 < s.size() && (s[i] == '<' || s[i] == '>') && s[i + 1] == s[i]) {
        const bool left = s[i] == '<';
        i += 2;
        const std::int64_t k = term();
        if (k < 0 || k > 63) bad("a shift by " + std::to_string(k) + " (0..63)");
        if (left) {
          if (v < 0 || (k > 0 && (std::uint64_t(v) >> (63 - k)) != 0)) bad("a value outside 64 bits");
          v = std::int64_t(std::uint64_t(v) << k);
        } else {
          v >>= k;
        }
      } else return v;
    }
  };
  const std::int64_t v = expr();
  skip();
  if (i != s.size()) bad("unexpected text");
  return v;
}

int Asm::reg(const Token& t, int line) const {
  const std::string& s = t.text;
  if (s.size() >= 2 && s.size() <= 3 && s[0] == 'r' &&
      std::all_of(s.begin() + 1, s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    const int n = std::stoi(s.substr(1));
    if (n < kRegisters) return n;
  }
  fail(line, t.col, "expected a register r0..r31, got '" + s + "'");
}

bool looksLikeRegister(const std::string& s) {
  return s.size() >= 2 && s[0] == 'r' && std::isdigit(static_cast<unsigned char>(s[1]));
}

DType Asm::type(const std::string& s, int line, int col) const {
  for (DType t : {DType::F32, DType::Bf16, DType::E4m3, DType::E5m2, DType::I32})
    if (s == dtypeName(t)) return t;
  fail(line, col, "unknown element type '" + s + "' (f32, bf16, e4m3, e5m2, i32)");
}

double parseDouble(const std::string& s, bool& ok) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  ok = !s.empty() && *end == '\0';
  return v;
}

void Asm::directive(const Line& l, Program& p) {
  const auto& w = l.words;
  const std::string& d = w[0].text;
  const auto need = [&](std::size_t n, const char* usage) {
    if (w.size() != n) fail(l.number, w[0].col, std::string("usage: ") + usage);
  };
  if (d == ".equ") {
    need(3, ".equ NAME value");
    if (!isIdentStart(w[1].text[0])) fail(l.number, w[1].col, "bad constant name '" + w[1].text + "'");
    constants_[w[1].text] = eval(w[2], l.number);
  } else if (d == ".thread") {
    need(3, ".thread N label");
    const std::int64_t n = eval(w[1], l.number);
    if (n < 0 || n >= kThreadsMax) fail(l.number, w[1].col, "thread must be 0..3");
    const auto it = labels_.find(w[2].text);
    if (it == labels_.end()) fail(l.number, w[2].col, "unknown label '" + w[2].text + "'");
    for (const auto& t : p.threads)
      if (t.thread == n) fail(l.number, w[1].col, "thread " + std::to_string(n) + " already has an entry");
    p.threads.push_back({int(n), it->second});
  } else if (d == ".init") {
    if (w.size() < 4) fail(l.number, w[0].col, "usage: .init ADDR TYPE values V... | .init ADDR TYPE random COUNT SEED LO HI");
    InitBlock b;
    const std::int64_t addr = eval(w[1], l.number);
    if (addr < 0 || std::uint64_t(addr) >= kSramAddressLimit) fail(l.number, w[1].col, "address out of the 24-bit SRAM space");
    b.addr = std::uint32_t(addr);
    b.type = type(w[2].text, l.number, w[2].col);
    if (w[3].text == "values") {
      b.kind = InitBlock::Kind::Values;
      for (std::size_t k = 4; k < w.size(); ++k) {
        bool ok;
        const double v = parseDouble(w[k].text, ok);
        if (!ok) fail(l.number, w[k].col, "expected a number, got '" + w[k].text + "'");
        b.values.push_back(b.type == DType::F32 ? double(float(v)) : v);  // what SRAM will hold
      }
    } else if (w[3].text == "random") {
      need(8, ".init ADDR TYPE random COUNT SEED LO HI");
      b.kind = InitBlock::Kind::Random;
      const std::int64_t count = eval(w[4], l.number);
      if (count <= 0) fail(l.number, w[4].col, "count must be positive");
      b.count = std::uint64_t(count);
      b.seed = std::uint64_t(eval(w[5], l.number));
      bool ok1, ok2;
      b.lo = parseDouble(w[6].text, ok1);
      b.hi = parseDouble(w[7].text, ok2);
      if (!ok1 || !ok2 || !(b.lo < b.hi)) fail(l.number, w[6].col, "expected LO < HI");
    } else {
      fail(l.number, w[3].col, "expected 'values' or 'random', got '" + w[3].text + "'");
    }
    p.inits.push_back(b);
  } else if (d == ".output") {
    need(5, ".output NAME ADDR TYPE SHAPE   (SHAPE like 256x256)");
    OutputDecl o;
    o.name = w[1].text;
    const std::int64_t addr = eval(w[2], l.number);
    if (addr < 0 || std::uint64_t(addr) >= kSramAddressLimit) fail(l.number, w[2].col, "address out of the 24-bit SRAM space");
    o.addr = std::uint32_t(addr);
    o.type = type(w[3].text, l.number, w[3].col);
    std::stringstream ss(w[4].text);
    std::string dim;
    while (std::getline(ss, dim, 'x')) {
      const std::int64_t v = eval(Token{dim, w[4].col}, l.number);
      if (v <= 0) fail(l.number, w[4].col, "shape dimensions must be positive");
      o.shape.push_back(std::uint64_t(v));
    }
    for (const auto& other : p.outputs)
      if (other.name == o.name) fail(l.number, w[1].col, "output '" + o.name + "' declared twice");
    p.outputs.push_back(o);
  } else {
    fail(l.number, w[0].col, "unknown directive '" + d + "' (.equ, .thread, .init, .output)");
  }
}

Instruction Asm::instruction(const Line& l, Program& p) {
  const Token& m = l.words[0];
  std::vector<std::string> parts;
  {
    std::stringstream ss(m.text);
    std::string part;
    while (std::getline(ss, part, '.')) parts.push_back(part);
  }
  Instruction inst;
  if (parts.empty() || !findOp(parts[0], inst.op)) fail(l.number, m.col, "unknown instruction '" + m.text + "'");
  const OpInfo& info = opInfo(inst.op);
  const std::size_t suffixes = parts.size() - 1;
  if (info.types == TypeSet::NONE) {
    if (suffixes) fail(l.number, m.col, std::string("'") + info.mnemonic + "' takes no type suffix");
  } else if (info.types == TypeSet::CVT) {
    if (suffixes != 2) fail(l.number, m.col, std::string("'") + info.mnemonic + "' needs .SRC.DST types, e.g. " + info.mnemonic + ".f32.bf16");
    inst.type2 = type(parts[1], l.number, m.col);
    inst.type = type(parts[2], l.number, m.col);
  } else {
    if (suffixes != 1) fail(l.number, m.col, std::string("'") + info.mnemonic + "' needs one type suffix, e.g. " + info.mnemonic + ".f32");
    inst.type = type(parts[1], l.number, m.col);
    if (!typeAllowed(info.types, inst.type))
      fail(l.number, m.col, std::string("'") + info.mnemonic + "' does not take type " + parts[1]);
  }
  const std::string ops = info.operands;
  if (l.words.size() - 1 != ops.size())
    fail(l.number, m.col, std::string("'") + info.mnemonic + "' takes " + std::to_string(ops.size()) + " operands, got " +
                              std::to_string(l.words.size() - 1));
  std::size_t field = 0;
  for (std::size_t k = 0; k < ops.size(); ++k) {
    const Token& t = l.words[k + 1];
    switch (ops[k]) {
      case 'd': inst.r[field++] = std::uint8_t(reg(t, l.number)); break;
      case 'x':
        if (looksLikeRegister(t.text)) {
          inst.r[field++] = std::uint8_t(reg(t, l.number));
        } else {
          inst.immOperand = true;
          inst.imm = eval(t, l.number);
          ++field;
        }
        break;
      case 's': {
        const std::int64_t v = eval(t, l.number);
        if (v < 0 || v > 255) fail(l.number, t.col, "expected a literal 0..255, got " + std::to_string(v));
        inst.r[field++] = std::uint8_t(v);
        break;
      }
      case 'i':
        inst.imm = (t.text == "none") ? -1 : eval(t, l.number);
        break;
      case 'L': {
        const auto it = labels_.find(t.text);
        if (it == labels_.end()) fail(l.number, t.col, "unknown label '" + t.text + "'");
        inst.imm = it->second;
        break;
      }
      case 'M': {
        const std::string& s = t.text;
        if (s.size() < 3 || s.front() != '[' || s.back() != ']')
          fail(l.number, t.col, "expected a memory operand like [r1 + 8], got '" + s + "'");
        std::string inner = s.substr(1, s.size() - 2);
        std::size_t b = inner.find_first_not_of(' ');
        std::size_t e = b;
        while (e < inner.size() && std::isalnum(static_cast<unsigned char>(inner[e]))) ++e;
        inst.r[field++] = std::uint8_t(reg(Token{inner.substr(b, e - b), t.col + 1 + int(b)}, l.number));
        std::string rest = inner.substr(e);
        if (rest.find_first_not_of(' ') != std::string::npos) {
          const std::size_t sign = rest.find_first_not_of(' ');
          if (rest[sign] != '+' && rest[sign] != '-') fail(l.number, t.col, "expected + or - after the base register");
          inst.imm = eval(Token{rest.substr(sign), t.col + 1 + int(e + sign)}, l.number);
        }
        break;
      }
      default: fail(l.number, t.col, "internal: bad operand kind");
    }
  }
  (void)p;
  return inst;
}

Program Asm::run(const std::string& text) {
  std::vector<Line> lines;
  {
    std::istringstream in(text);
    std::string raw;
    for (int n = 1; std::getline(in, raw); ++n) lines.push_back(split(raw, n));
  }
  Program p;
  // Pass 1: labels and their instruction indices.
  std::uint32_t pc = 0;
  for (const auto& l : lines) {
    if (!l.label.empty()) {
      if (labels_.count(l.label)) fail(l.number, l.labelCol, "label '" + l.label + "' defined twice");
      labels_[l.label] = pc;
      p.labels.push_back({l.label, pc});
    }
    if (!l.words.empty() && l.words[0].text[0] != '.') ++pc;
  }
  // Pass 2: directives (in order, so .equ precedes its uses) and instructions.
  for (const auto& l : lines) {
    if (l.words.empty()) continue;
    if (l.words[0].text[0] == '.') directive(l, p);
    else p.code.push_back(instruction(l, p));
  }
  if (p.code.empty()) throw ProgramError(origin_ + ": the program has no instructions");
  return p;
}

std::string formatDouble(double v) {
  for (int prec = 1; prec <= 17; ++prec) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) return buf;
  }
  return std::to_string(v);
}

}  // namespace

Program assemble(const std::string& text, const std::string& origin) { return Asm(origin).run(text); }

std::string instructionText(const Instruction& inst, const Program* program) {
  const OpInfo& info = opInfo(inst.op);
  std::string s = info.mnemonic;
  if (info.types == TypeSet::CVT) s += std::string(".") + dtypeName(inst.type2) + "." + dtypeName(inst.type);
  else if (inst.type != DType::None) s += std::string(".") + dtypeName(inst.type);
  std::size_t field = 0;
  const std::string ops = info.operands;
  for (std::size_t k = 0; k < ops.size(); ++k) {
    s += k == 0 ? " " : ", ";
    switch (ops[k]) {
      case 'd': s += "r" + std::to_string(inst.r[field++]); break;
      case 'x':
        s += inst.immOperand ? std::to_string(inst.imm) : "r" + std::to_string(inst.r[field]);
        ++field;
        break;
      case 's': s += std::to_string(inst.r[field++]); break;
      case 'i': s += (info.unit == Unit::Dma && inst.imm == -1) ? "none" : std::to_string(inst.imm); break;
      case 'L': {
        std::string name;
        if (program)
          for (const auto& l : program->labels)
            if (l.pc == inst.imm) {
              name = l.name;
              break;
            }
        s += name.empty() ? "@" + std::to_string(inst.imm) : name;
        break;
      }
      case 'M':
        s += "[r" + std::to_string(inst.r[field++]);
        if (inst.imm) s += (inst.imm < 0 ? " - " : " + ") + std::to_string(inst.imm < 0 ? -inst.imm : inst.imm);
        s += "]";
        break;
    }
  }
  return s;
}

std::string disassemble(const Program& p) {
  std::ostringstream os;
  // Labels by position (in the program's order); branch targets and thread entries without a
  // label get one, so that the text assembles back.
  std::map<std::uint32_t, std::vector<std::string>> named;
  for (const auto& l : p.labels) named[l.pc].push_back(l.name);
  const auto nameAt = [&](std::uint32_t pc) -> const std::string& {
    auto& names = named[pc];
    if (names.empty()) names.push_back("_L" + std::to_string(pc));
    return names.front();
  };
  for (const auto& inst : p.code)
    if (std::string(opInfo(inst.op).operands).find('L') != std::string::npos) nameAt(std::uint32_t(inst.imm));
  for (const auto& t : p.threads) nameAt(t.pc);
  for (const auto& o : p.outputs) {
    os << ".output " << o.name << " " << o.addr << " " << dtypeName(o.type) << " ";
    for (std::size_t i = 0; i < o.shape.size(); ++i) os << (i ? "x" : "") << o.shape[i];
    os << "\n";
  }
  for (const auto& b : p.inits) {
    os << ".init " << b.addr << " " << dtypeName(b.type);
    if (b.kind == InitBlock::Kind::Random) {
      os << " random " << b.count << " " << b.seed << " " << formatDouble(b.lo) << " " << formatDouble(b.hi);
    } else {
      os << " values";
      char buf[32];
      for (double v : b.values) {
        // FP32 values (stored as FP32 when assembled) in the 9 digits that identify a float.
        if (b.type == DType::F32) std::snprintf(buf, sizeof buf, "%.9g", v), os << " " << buf;
        else os << " " << formatDouble(v);
      }
    }
    os << "\n";
  }
  for (std::uint32_t pc = 0; pc <= p.code.size(); ++pc) {
    const auto at = named.find(pc);
    if (at != named.end())
      for (const auto& name : at->second) os << name << ":\n";
    if (pc == p.code.size()) break;
    const Instruction& inst = p.code[pc];
    Program target;  // the one label a branch names
    if (std::string(opInfo(inst.op).operands).find('L') != std::string::npos) target.labels.push_back({nameAt(std::uint32_t(inst.imm)), std::uint32_t(inst.imm)});
    os << "  " << instructionText(inst, &target) << "\n";
  }
  for (const auto& t : p.threads) os << ".thread " << t.thread << " " << nameAt(t.pc) << "\n";
  return os.str();
}

std::string annotatedText(const Program& p, const ProgramNotes& notes, const std::string& header) {
  std::ostringstream os;
  os << "; " << header << "\n";
  Program directives;  // the .output and .init lines, as disassemble writes them
  directives.outputs = p.outputs, directives.inits = p.inits;
  os << disassemble(directives);
  std::multimap<std::uint32_t, std::string> labels;
  for (const auto& l : p.labels) labels.emplace(l.pc, l.name);
  for (std::uint32_t pc = 0; pc <= p.code.size(); ++pc) {
    for (auto [it, end] = labels.equal_range(pc); it != end; ++it) os << it->second << ":\n";
    const auto n = notes.find(pc);
    if (n != notes.end())
      for (const auto& note : n->second) os << "; " << note << "\n";
    if (pc == p.code.size()) break;
    const Instruction& inst = p.code[pc];
    Program target;  // the one label a branch names
    if (std::string(opInfo(inst.op).operands).find('L') != std::string::npos) {
      const auto at = labels.find(std::uint32_t(inst.imm));
      if (at != labels.end()) target.labels.push_back({at->second, at->first});
    }
    os << "    " << instructionText(inst, &target) << "\n";
  }
  for (const auto& t : p.threads) {
    const auto at = labels.find(t.pc);
    os << ".thread " << t.thread << " " << (at == labels.end() ? "" : at->second) << "\n";
  }
  return os.str();
}

Program loadProgramFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ProgramError("cannot read program file '" + path + "'");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "TTPG", 4) == 0) return decodeBinary(bytes, path);
  return assemble(std::string(bytes.begin(), bytes.end()), path);
}

}  // namespace tatami
