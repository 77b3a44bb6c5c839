// Self-checking test of the verilated vector unit against the arch reference semantics: each
// vector the RTL takes is also executed as one instruction (vadd ... vfma, vcvt, vcvtsr) by
// tatami::execute on a reference core, and every byte of the result is compared.
//
// Kinds: add, sub, mul, max, min and fma on FP32, BF16, CFP8 1-4-3 and CFP8 1-5-2 elements (24);
// conversions between every pair of those types with round to nearest even (16) and stochastic
// rounding to the three narrow types (12). Operands: special values (zeros, Inf, NaN with payloads,
// largest finite, smallest denormal), random bits, denormals, same-exponent operands (cancellation),
// fma addends near minus the product, values around the CFP8 range of the vector's random bias
// (saturation, denormals) and every CFP8 code; random seed, tensor and element per vector. Vectors
// are fed with random gaps and back-pressure; each result must come exactly `latency` cycles after
// its vector when nothing stalls, and the RTL's pipeline depth must equal the architecture config's.
//
//   rtl_vector_unit_test [VECTORS_PER_KIND]   (default 10000; the `long` test runs 100000)
// Ends with one PASS or FAIL line.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>

#include "tatami/arch/config.h"
#include "tatami/arch/formats.h"
#include "tatami/arch/semantics.h"
#include "tatami/rtl/vector_unit.h"

using tatami::rtl::VectorUnit;
using Type = VectorUnit::Type;

namespace {

struct Kind {
  VectorUnit::Op op;
  Type src, dst;
  bool stochastic;
};

tatami::DType dtype(Type t) {
  switch (t) {
    case Type::F32: return tatami::DType::F32;
    case Type::Bf16: return tatami::DType::Bf16;
    case Type::E4m3: return tatami::DType::E4m3;
    case Type::E5m2: return tatami::DType::E5m2;
  }
  return tatami::DType::None;
}

std::string name(const Kind& k) {
  static const char* ops[] = {"vadd", "vsub", "vmul", "vmax", "vmin", "vfma", "vcvt"};
  static const char* types[] = {"f32", "bf16", "e4m3", "e5m2"};
  if (k.op != VectorUnit::Op::Convert) return std::string(ops[int(k.op)]) + "." + types[int(k.dst)];
  return std::string(k.stochastic ? "vcvtsr." : "vcvt.") + types[int(k.src)] + "." + types[int(k.dst)];
}

int lanes(const Kind& k) { return 64 / std::max(tatami::rtl::typeSize(k.src), tatami::rtl::typeSize(k.dst)); }

/// The reference: the vector's lanes as one instruction on a core of the arch semantics (of 64
/// elements, a whole number of 64 B vectors in every type; the lanes past the vector's are zero).
class Reference {
 public:
  VectorUnit::Vector run(const Kind& k, const VectorUnit::Command& c, const VectorUnit::Vector& a, const VectorUnit::Vector& b,
                         const VectorUnit::Vector& cc) {
    constexpr std::uint64_t kD = 0, kA = 256, kB = 512, kC = 768;
    const std::uint8_t zeros[256] = {};
    for (std::uint64_t at : {kA, kB, kC}) core_.sram.write(at, zeros, 256);
    core_.sram.write(kA, a.data(), 64), core_.sram.write(kB, b.data(), 64), core_.sram.write(kC, cc.data(), 64);
    tatami::ThreadState& t = core_.threads[0];
    t.pc = 0, t.status = tatami::ThreadState::Status::Running;
    t.seed = c.seed, t.biasE4m3 = c.biasE4m3, t.biasE5m2 = c.biasE5m2;
    t.r[1] = kD, t.r[2] = kA, t.r[3] = kB, t.r[4] = kC, t.r[5] = 64, t.r[6] = c.tensor, t.r[7] = c.element;
    tatami::Instruction inst;
    inst.type = dtype(k.dst);
    switch (k.op) {
      case VectorUnit::Op::Add: inst.op = tatami::Op::Vadd; break;
      case VectorUnit::Op::Sub: inst.op = tatami::Op::Vsub; break;
      case VectorUnit::Op::Mul: inst.op = tatami::Op::Vmul; break;
      case VectorUnit::Op::Max: inst.op = tatami::Op::Vmax; break;
      case VectorUnit::Op::Min: inst.op = tatami::Op::Vmin; break;
      case VectorUnit::Op::Fma: inst.op = tatami::Op::Vfma; break;
      case VectorUnit::Op::Convert: inst.op = k.stochastic ? tatami::Op::Vcvtsr : tatami::Op::Vcvt; break;
    }
    if (inst.op == tatami::Op::Vfma) inst.r = {1, 2, 3, 4, 5, 0};
    else if (inst.op == tatami::Op::Vcvt) inst.r = {1, 2, 5, 0, 0, 0}, inst.type2 = dtype(k.src);
    else if (inst.op == tatami::Op::Vcvtsr) inst.r = {1, 2, 5, 6, 7, 0}, inst.type2 = dtype(k.src);
    else inst.r = {1, 2, 3, 5, 0, 0};
    tatami::execute(core_, 0, inst);
    VectorUnit::Vector d{};
    core_.sram.read(kD, d.data(), std::size_t(lanes(k) * tatami::rtl::typeSize(k.dst)));
    return d;
  }

 private:
  tatami::CoreState core_{4096, 1};
};

}  // namespace

int main(int argc, char** argv) {
  const long perKind = argc > 1 ? std::atol(argv[1]) : 10000;
  VectorUnit dut;
  Reference reference;
  const int latency = dut.latency(), configured = tatami::ArchConfig{}.core.vector_latency_cycles;
  if (latency != configured) {
    std::printf("FAIL rtl.vector_unit: the RTL was built with LATENCY %d, the architecture config says core.vector_latency_cycles = %d\n",
                latency, configured);
    return 1;
  }
  std::vector<Kind> kinds;
  const Type types[] = {Type::F32, Type::Bf16, Type::E4m3, Type::E5m2};
  for (int o = 0; o < 6; ++o)
    for (Type t : types) kinds.push_back({VectorUnit::Op(o), t, t, false});
  for (Type s : types)
    for (Type d : types) kinds.push_back({VectorUnit::Op::Convert, s, d, false});
  for (Type s : types)
    for (Type d : types)
      if (d != Type::F32) kinds.push_back({VectorUnit::Op::Convert, s, d, true});

  std::mt19937_64 gen(2026);
  const std::uint32_t specials[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00001u, 0x7F7FFFFFu,
                                    0xFF7FFFFFu, 0x00800000u, 0x80800000u, 0x007FFFFFu, 0x807FFFFFu, 0x00000001u, 0x80000001u,
                                    0x3F800000u, 0xBF800000u, 0x3F800001u, 0x4B000000u, 0x33800000u, 0x34000000u, 0x7F810000u};
  // An FP32 operand; `other` is a lane's first operand (for neighbours and cancellation), `bias`
  // the CFP8 bias whose range to cover.
  const auto fp32 = [&](std::uint32_t other, int bias, int expBits) -> std::uint32_t {
    const std::uint64_t r = gen();
    switch (r % 9) {
      case 0: return specials[(r >> 8) % (sizeof specials / sizeof specials[0])];
      case 1: return std::uint32_t(r >> 16) & 0x807FFFFFu;                                                // denormals
      case 2: return (other & 0xFF800000u) ^ (std::uint32_t(r >> 20) & 0x807FFFFFu);                      // same exponent
      case 3: return (other + std::uint32_t((r >> 24) % 64) - 32) ^ (std::uint32_t(r >> 40) & 0x80000000u);  // neighbours
      case 4:
      case 5: {  // around the CFP8 range: from below its denormals to above its largest value
        const int lo = 1 - bias - 6, hi = (1 << expBits) - bias + 2;
        const int e = lo + int((r >> 8) % std::uint64_t(hi - lo + 1));
        return (std::uint32_t(r >> 63) << 31) | (std::uint32_t(e + 127) << 23) | (std::uint32_t(r >> 16) & 0x7FFFFFu);
      }
      default: return std::uint32_t(r >> 12);  // any bits
    }
  };
  std::uint64_t elements = 0, bad = 0, timingBad = 0;
  for (const Kind& kind : kinds) {
    dut.reset();
    struct Expected {
      VectorUnit::Vector want, a, b, c;
      VectorUnit::Command command;
      long inCycle;
    };
    std::deque<Expected> expected;
    long sent = 0, received = 0, cycle = 0;
    bool stalled = false, offering = false;
    VectorUnit::Vector a{}, b{}, c{};
    VectorUnit::Command command;
    const int n = lanes(kind), size = tatami::rtl::typeSize(kind.src), outSize = tatami::rtl::typeSize(kind.dst);
    while (received < perKind) {
      if (!offering && sent < perKind && gen() % 8 != 0) {  // a gap one cycle in eight
        command = {kind.op, kind.src, kind.dst, kind.stochastic, int(gen() % 64), int(gen() % 64), gen(), gen(), gen()};
        if (gen() % 4 == 0) command.element = ~std::uint64_t(0) - gen() % 80;  // element numbers that wrap
        const Type cfp = kind.src == Type::E5m2 || kind.dst == Type::E5m2 ? Type::E5m2 : Type::E4m3;
        const int bias = cfp == Type::E5m2 ? command.biasE5m2 : command.biasE4m3, expBits = cfp == Type::E5m2 ? 5 : 4;
        for (int i = 0; i < n; ++i) {
          const std::uint32_t x = fp32(0, bias, expBits), y = fp32(x, bias, expBits);
          // fma's addend: anything, or (about) minus the product, so that most of it cancels
          const float p = tatami::bitsFloat(x) * tatami::bitsFloat(y);
          const std::uint32_t z = gen() % 3 ? fp32(x, bias, expBits) : tatami::floatBits(-p) + std::uint32_t(gen() % 5) - 2u;
          const std::uint32_t v[3] = {x, y, z};
          VectorUnit::Vector* out[3] = {&a, &b, &c};
          for (int j = 0; j < 3; ++j) {
            std::uint8_t* at = out[j]->data() + i * size;
            if (kind.src == Type::F32) std::memcpy(at, &v[j], 4);
            else if (kind.src == Type::Bf16) {
              const std::uint16_t h = std::uint16_t(v[j] >> 16);
              std::memcpy(at, &h, 2);
            } else {
              // any code, or the value's code at this bias
              const tatami::FloatFormat f = kind.src == Type::E4m3 ? tatami::cfp8e4m3(command.biasE4m3) : tatami::cfp8e5m2(command.biasE5m2);
              *at = gen() % 2 ? std::uint8_t(gen()) : std::uint8_t(tatami::encode(f, tatami::bitsFloat(v[j])));
            }
          }
        }
        offering = true;
      }
      const bool outReady = gen() % 6 != 0;  // back-pressure one cycle in six
      const VectorUnit::Outputs out = dut.cycle(offering, command, a, b, c, outReady);
      if (out.outValid && outReady) {
        if (expected.empty()) {
          std::printf("FAIL rtl.vector_unit: %s: a result with no vector in flight\n", name(kind).c_str());
          return 1;
        }
        const Expected& e = expected.front();
        for (int i = 0; i < n; ++i) {
          ++elements;
          if (std::memcmp(out.y.data() + i * outSize, e.want.data() + i * outSize, std::size_t(outSize)) != 0 && bad++ < 8) {
            std::uint32_t got = 0, want = 0, ea = 0, eb = 0, ec = 0;
            std::memcpy(&got, out.y.data() + i * outSize, std::size_t(outSize)), std::memcpy(&want, e.want.data() + i * outSize, std::size_t(outSize));
            std::memcpy(&ea, e.a.data() + i * size, std::size_t(size)), std::memcpy(&eb, e.b.data() + i * size, std::size_t(size));
            std::memcpy(&ec, e.c.data() + i * size, std::size_t(size));
            std::printf("mismatch: %s lane %d (a 0x%x b 0x%x c 0x%x, biases %d/%d, seed 0x%llx tensor 0x%llx element 0x%llx): rtl 0x%x arch 0x%x\n",
                        name(kind).c_str(), i, ea, eb, ec, e.command.biasE4m3, e.command.biasE5m2, (unsigned long long)e.command.seed,
                        (unsigned long long)e.command.tensor, (unsigned long long)e.command.element, got, want);
          }
        }
        if (!stalled && cycle - e.inCycle != latency && timingBad++ < 4)
          std::printf("timing: %s: a result %ld cycles after its vector, expected %d\n", name(kind).c_str(), cycle - e.inCycle, latency);
        expected.pop_front();
        ++received;
      }
      if (out.outValid && !outReady) stalled = true;
      if (expected.empty()) stalled = false;
      if (offering && out.inReady) {
        expected.push_back({reference.run(kind, command, a, b, c), a, b, c, command, cycle});
        offering = false;
        ++sent;
      }
      ++cycle;
    }
  }
  const bool ok = bad == 0 && timingBad == 0;
  std::printf("%s rtl.vector_unit: %ld vectors for each of %zu kinds (add, sub, mul, max, min, fma on FP32, BF16, CFP8 1-4-3 and 1-5-2; "
              "conversions between them, nearest even and stochastic), %llu elements, %llu mismatches, %llu timing errors, latency %d\n",
              ok ? "PASS" : "FAIL", perKind, kinds.size(), (unsigned long long)elements, (unsigned long long)bad, (unsigned long long)timingBad,
              latency);
  return ok ? 0 : 1;
}
