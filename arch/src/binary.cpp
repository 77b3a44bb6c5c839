// The binary program form: "TTPG", a format version, then code, labels, threads, inits and
// outputs, little-endian. The loader checks every field and names the offset of a bad one.
#include <algorithm>
#include <cstring>

#include "tatami/arch/philox.h"
#include "tatami/arch/program.h"

namespace tatami {

namespace {

class Writer {
 public:
  template <typename T>
  void put(T v) {
    std::uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    bytes.insert(bytes.end(), b, b + sizeof(T));
  }
  void str(const std::string& s) {
    put<std::uint16_t>(std::uint16_t(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  std::vector<std::uint8_t> bytes;
};

class Reader {
 public:
  Reader(const std::vector<std::uint8_t>& b, const std::string& origin) : b_(b), origin_(origin) {}
  template <typename T>
  T get(const char* what) {
    if (pos_ + sizeof(T) > b_.size()) fail(std::string("file ends inside ") + what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const auto n = get<std::uint16_t>(what);
    if (pos_ + n > b_.size()) fail(std::string("file ends inside ") + what);
    std::string s(b_.begin() + long(pos_), b_.begin() + long(pos_ + n));
    pos_ += n;
    return s;
  }
  std::uint32_t count(const char* what, std::size_t minBytesEach) {
    const auto n = get<std::uint32_t>(what);
    if (std::size_t(n) * minBytesEach > b_.size() - pos_) fail(std::string("implausible ") + what + " count " + std::to_string(n));
    return n;
  }
  [[noreturn]] void fail(const std::string& msg, std::size_t at = SIZE_MAX) const {
    throw ProgramError(origin_ + ": offset " + std::to_string(at == SIZE_MAX ? pos_ : at) + ": " + msg);
  }
  std::size_t pos() const { return pos_; }
  bool atEnd() const { return pos_ == b_.size(); }

 private:
  const std::vector<std::uint8_t>& b_;
  std::string origin_;
  std::size_t pos_ = 0;
};

bool validType(std::uint8_t t) { return t <= std::uint8_t(DType::I32); }

}  // namespace

std::uint64_t OutputDecl::elementCount() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

double initRandomValue(const InitBlock& b, std::uint64_t index) {
  // Uniform in [lo, hi): 32 random bits from Philox keyed by the block's seed and address.
  const double u = double(roundingBits(b.seed, b.addr, index)) / 4294967296.0;
  const double v = b.lo + (b.hi - b.lo) * u;
  if (b.type == DType::I32) return double(std::int64_t(b.lo) + std::int64_t((b.hi - b.lo) * u));
  return double(float(v));
}

void initRandomValues(const InitBlock& b, double* out) {
  // Each Philox block gives the draws of four consecutive elements.
  const double span = b.hi - b.lo;
  for (std::uint64_t base = 0; base < b.count; base += 4) {
    const std::uint64_t blk = base >> 2;
    const PhiloxCounter w = philox4x32({std::uint32_t(blk), std::uint32_t(blk >> 32), std::uint32_t(b.addr), 0},
                                       {std::uint32_t(b.seed), std::uint32_t(b.seed >> 32)});
    for (std::uint64_t e = base; e < std::min(base + 4, b.count); ++e) {
      const double u = double(w[e & 3]) / 4294967296.0;
      out[e] = b.type == DType::I32 ? double(std::int64_t(b.lo) + std::int64_t(span * u)) : double(float(b.lo + span * u));
    }
  }
}

std::vector<std::uint8_t> encodeBinary(const Program& p) {
  Writer w;
  w.bytes = {'T', 'T', 'P', 'G'};
  w.put<std::uint32_t>(kProgramFormatVersion);
  w.put<std::uint32_t>(std::uint32_t(p.code.size()));
  for (const auto& i : p.code) {
    w.put<std::uint8_t>(std::uint8_t(std::uint8_t(i.op) | (i.immOperand ? 0x80 : 0)));
    w.put<std::uint8_t>(std::uint8_t(std::uint8_t(i.type) | (std::uint8_t(i.type2) << 4)));
    for (auto r : i.r) w.put<std::uint8_t>(r);
    w.put<std::int64_t>(i.imm);
  }
  w.put<std::uint32_t>(std::uint32_t(p.labels.size()));
  for (const auto& l : p.labels) {
    w.put<std::uint32_t>(l.pc);
    w.str(l.name);
  }
  w.put<std::uint32_t>(std::uint32_t(p.threads.size()));
  for (const auto& t : p.threads) {
    w.put<std::uint8_t>(std::uint8_t(t.thread));
    w.put<std::uint32_t>(t.pc);
  }
  w.put<std::uint32_t>(std::uint32_t(p.inits.size()));
  for (const auto& b : p.inits) {
    w.put<std::uint32_t>(b.addr);
    w.put<std::uint8_t>(std::uint8_t(b.type));
    w.put<std::uint8_t>(std::uint8_t(b.kind));
    if (b.kind == InitBlock::Kind::Values) {
      w.put<std::uint64_t>(b.values.size());
      for (double v : b.values) w.put<double>(v);
    } else {
      w.put<std::uint64_t>(b.count);
      w.put<std::uint64_t>(b.seed);
      w.put<double>(b.lo);
      w.put<double>(b.hi);
    }
  }
  w.put<std::uint32_t>(std::uint32_t(p.outputs.size()));
  for (const auto& o : p.outputs) {
    w.str(o.name);
    w.put<std::uint32_t>(o.addr);
    w.put<std::uint8_t>(std::uint8_t(o.type));
    w.put<std::uint8_t>(std::uint8_t(o.shape.size()));
    for (auto d : o.shape) w.put<std::uint64_t>(d);
  }
  return w.bytes;
}

Program decodeBinary(const std::vector<std::uint8_t>& bytes, const std::string& origin) {
  Reader r(bytes, origin);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "TTPG", 4) != 0) r.fail("not a Tatami binary program (no TTPG magic)", 0);
  r.get<std::uint32_t>("magic");
  const auto version = r.get<std::uint32_t>("version");
  if (version != kProgramFormatVersion)
    r.fail("format version " + std::to_string(version) + " is not supported (this build reads version " +
               std::to_string(kProgramFormatVersion) + ")",
           4);
  Program p;
  const auto n = r.count("instruction", 16);
  for (std::uint32_t k = 0; k < n; ++k) {
    const std::size_t at = r.pos();
    Instruction i;
    const auto opByte = r.get<std::uint8_t>("instruction");
    const auto types = r.get<std::uint8_t>("instruction");
    if ((opByte & 0x7F) >= std::uint8_t(Op::Count)) r.fail("instruction " + std::to_string(k) + ": invalid opcode " + std::to_string(opByte & 0x7F), at);
    i.op = Op(opByte & 0x7F);
    i.immOperand = (opByte & 0x80) != 0;
    if (!validType(types & 0xF) || !validType(types >> 4)) r.fail("instruction " + std::to_string(k) + ": invalid element type", at + 1);
    i.type = DType(types & 0xF);
    i.type2 = DType(types >> 4);
    for (auto& reg : i.r) reg = r.get<std::uint8_t>("instruction");
    i.imm = r.get<std::int64_t>("instruction");
    const OpInfo& info = opInfo(i.op);
    const bool typesOk = info.types == TypeSet::CVT ? (i.type != DType::None && i.type2 != DType::None)
                                                     : (typeAllowed(info.types, i.type) && i.type2 == DType::None);
    if (!typesOk) r.fail("instruction " + std::to_string(k) + ": element type not allowed for " + info.mnemonic, at + 1);
    const std::string ops = info.operands;
    std::size_t field = 0;
    for (char c : ops) {
      if (c == 'd' || (c == 'x' && !i.immOperand)) {
        if (i.r[field] >= kRegisters) r.fail("instruction " + std::to_string(k) + ": register field " + std::to_string(i.r[field]) + " is not r0..r31", at + 2 + field);
      }
      if (c == 'd' || c == 'x' || c == 's' || c == 'M') ++field;
    }
    // Fields the instruction does not use hold 0 (as the assembler writes them), so that no
    // register number outside the file ever reaches the core.
    for (std::size_t unused = field; unused < i.r.size(); ++unused)
      if (i.r[unused] != 0)
        r.fail("instruction " + std::to_string(k) + ": register field " + std::to_string(unused) + " is not used by " + info.mnemonic +
                   " and must be 0 (it is " + std::to_string(i.r[unused]) + ")",
               at + 2 + unused);
    p.code.push_back(i);
  }
  const auto nl = r.count("label", 6);
  for (std::uint32_t k = 0; k < nl; ++k) {
    Label l;
    l.pc = r.get<std::uint32_t>("label");
    l.name = r.str("label");
    p.labels.push_back(l);
  }
  const auto nt = r.count("thread", 5);
  for (std::uint32_t k = 0; k < nt; ++k) {
    const std::size_t at = r.pos();
    ThreadEntry t;
    t.thread = r.get<std::uint8_t>("thread");
    t.pc = r.get<std::uint32_t>("thread");
    if (t.thread >= kThreadsMax || t.pc >= p.code.size()) r.fail("thread entry out of range", at);
    p.threads.push_back(t);
  }
  const auto ni = r.count("init", 14);
  for (std::uint32_t k = 0; k < ni; ++k) {
    const std::size_t at = r.pos();
    InitBlock b;
    b.addr = r.get<std::uint32_t>("init");
    const auto t = r.get<std::uint8_t>("init");
    const auto kind = r.get<std::uint8_t>("init");
    if (!validType(t) || t == 0 || kind > 1) r.fail("init block: invalid type or kind", at);
    b.type = DType(t);
    b.kind = InitBlock::Kind(kind);
    if (b.kind == InitBlock::Kind::Values) {
      const auto cnt = r.get<std::uint64_t>("init");
      if (cnt > (bytes.size() - r.pos()) / 8) r.fail("init block: implausible value count", at);
      for (std::uint64_t v = 0; v < cnt; ++v) b.values.push_back(r.get<double>("init"));
    } else {
      b.count = r.get<std::uint64_t>("init");
      b.seed = r.get<std::uint64_t>("init");
      b.lo = r.get<double>("init");
      b.hi = r.get<double>("init");
    }
    p.inits.push_back(b);
  }
  const auto no = r.count("output", 8);
  for (std::uint32_t k = 0; k < no; ++k) {
    const std::size_t at = r.pos();
    OutputDecl o;
    o.name = r.str("output");
    o.addr = r.get<std::uint32_t>("output");
    const auto t = r.get<std::uint8_t>("output");
    if (!validType(t) || t == 0) r.fail("output: invalid type", at);
    o.type = DType(t);
    const auto dims = r.get<std::uint8_t>("output");
    for (int d = 0; d < dims; ++d) o.shape.push_back(r.get<std::uint64_t>("output"));
    p.outputs.push_back(o);
  }
  if (!r.atEnd()) r.fail("unexpected bytes after the last section");
  for (std::size_t k = 0; k < p.code.size(); ++k) {
    const std::string ops = opInfo(p.code[k].op).operands;
    if (ops.find('L') != std::string::npos && (p.code[k].imm < 0 || std::uint64_t(p.code[k].imm) >= p.code.size()))
      throw ProgramError(origin + ": instruction " + std::to_string(k) + ": branch target " +
                         std::to_string(p.code[k].imm) + " is outside the program (0.." + std::to_string(p.code.size() - 1) + ")");
  }
  return p;
}

}  // namespace tatami
