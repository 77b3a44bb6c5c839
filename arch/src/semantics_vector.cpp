// Reference semantics of the vector instructions. Every float lane is computed in FP32 (each
// operation rounded once, NaN canonical) and rounded to the element type with RNE.
#include <cmath>
#include <cstring>

#include "semantics_internal.h"
#include "tatami/arch/numerics.h"
#include "tatami/arch/philox.h"

namespace tatami::detail {

FloatFormat formatOf(DType t, int bias) {
  switch (t) {
    case DType::Bf16: return kBf16;
    case DType::E4m3: return cfp8e4m3(bias);
    case DType::E5m2: return cfp8e5m2(bias);
    default: throw ExecError("internal: no narrow format for this type");
  }
}

int defaultBias(DType t) { return t == DType::E5m2 ? 15 : 7; }

int biasOf(const ThreadState& t, DType type) { return type == DType::E5m2 ? t.biasE5m2 : t.biasE4m3; }

void loadFloats(const Sram& sram, std::uint64_t addr, DType type, std::uint64_t n, int bias, float* out) {
  if (type == DType::F32) {
    sram.read(addr, out, n * 4);
    return;
  }
  if (type == DType::I32) {
    std::vector<std::int32_t> v(n);
    sram.read(addr, v.data(), n * 4);
    for (std::uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(v[i]);
    return;
  }
  const int size = dtypeSize(type);
  std::vector<std::uint8_t> raw(n * std::uint64_t(size));
  sram.read(addr, raw.data(), raw.size());
  if (type == DType::Bf16) {
    // A BF16 code is the top half of its FP32 value.
    std::vector<std::uint16_t> codes(n);
    std::memcpy(codes.data(), raw.data(), n * 2);
    std::vector<std::uint32_t> bits(n);
    for (std::uint64_t i = 0; i < n; ++i) bits[i] = std::uint32_t(codes[i]) << 16;
    std::memcpy(out, bits.data(), n * 4);
    return;
  }
  float table[256];
  const FloatFormat f = formatOf(type, bias);
  for (int c = 0; c < 256; ++c) table[c] = decode(f, std::uint32_t(c));
  for (std::uint64_t i = 0; i < n; ++i) out[i] = table[raw[i]];
}

void storeFloats(Sram& sram, std::uint64_t addr, DType type, std::uint64_t n, int bias, const float* in) {
  if (type == DType::F32) {
    sram.write(addr, in, n * 4);
    return;
  }
  if (type == DType::Bf16) {
    std::vector<std::uint16_t> v(n);
    for (std::uint64_t i = 0; i < n; ++i) v[i] = fp32ToBf16(in[i]);
    sram.write(addr, v.data(), n * 2);
    return;
  }
  const FloatFormat f = formatOf(type, bias);
  std::vector<std::uint8_t> v(n);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = std::uint8_t(encode(f, in[i]));
  sram.write(addr, v.data(), n);
}

namespace {

std::uint32_t laneMask(DType t) { return t == DType::Bf16 ? 0xFFFFu : (t == DType::E4m3 || t == DType::E5m2) ? 0xFFu : 0xFFFFFFFFu; }

/// Integer lanes: i32 wraparound arithmetic.
StepResult integerOp(CoreState& core, const Instruction& inst, const Operands& o) {
  const std::uint64_t n = o.n;
  std::vector<std::int32_t> a(n), b(n), c(n), d(n);
  const bool needsA = inst.op != Op::Vfill && inst.op != Op::Viota;
  if (needsA) core.sram.read(o.a, a.data(), n * 4);
  const bool binary = inst.op != Op::Vadds && inst.op != Op::Vmuls && inst.op != Op::Vfill && inst.op != Op::Viota;
  if (binary && needsA) core.sram.read(o.b, b.data(), n * 4);
  if (inst.op == Op::Vsel) core.sram.read(o.c, c.data(), n * 4);
  const std::int32_t s = std::int32_t(std::uint32_t(o.scalar));
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint32_t x = std::uint32_t(a[i]), y = std::uint32_t(b[i]);
    switch (inst.op) {
      case Op::Vadd: d[i] = std::int32_t(x + y); break;
      case Op::Vsub: d[i] = std::int32_t(x - y); break;
      case Op::Vmul: d[i] = std::int32_t(x * y); break;
      case Op::Vmax: d[i] = std::max(a[i], b[i]); break;
      case Op::Vmin: d[i] = std::min(a[i], b[i]); break;
      case Op::Vadds: d[i] = std::int32_t(x + std::uint32_t(s)); break;
      case Op::Vmuls: d[i] = std::int32_t(x * std::uint32_t(s)); break;
      case Op::Vcmplt: d[i] = a[i] < b[i] ? -1 : 0; break;
      case Op::Vcmple: d[i] = a[i] <= b[i] ? -1 : 0; break;
      case Op::Vcmpeq: d[i] = a[i] == b[i] ? -1 : 0; break;
      case Op::Vsel: d[i] = a[i] ? b[i] : c[i]; break;
      case Op::Vfill: d[i] = s; break;
      case Op::Viota: d[i] = std::int32_t(std::uint32_t(s) + std::uint32_t(i)); break;
      default: throw ExecError("internal: not an integer vector op");
    }
  }
  core.sram.write(o.d, d.data(), n * 4);
  return {};
}

float applyBinary(Op op, float x, float y) {
  switch (op) {
    case Op::Vadd:
    case Op::Vadds: return canonical(x + y);
    case Op::Vsub: return canonical(x - y);
    case Op::Vmul:
    case Op::Vmuls: return canonical(x * y);
    case Op::Vmax: return fmax32(x, y);
    case Op::Vmin: return fmin32(x, y);
    default: return 0;
  }
}

void checkVectorOperands(const CoreState& core, const Instruction& inst, const Operands& o) {
  for (const Access& acc : accessesOf(inst, o)) {
    const char* what = acc.write ? "vector destination" : "vector source";
    checkAligned(acc.addr, kVectorBytes, what);
    checkRange(core, acc.addr, acc.bytes, what);
  }
}

}  // namespace

StepResult executeVector(CoreState& core, ThreadState& t, const Instruction& inst, const Operands& o,
                         const ExecOptions& options) {
  StepResult res;
  const DType type = inst.type;
  const bool rowOp = inst.op == Op::Vrowsum || inst.op == Op::Vrowmax || inst.op == Op::Vrowargmax ||
                     inst.op == Op::Vcolsum || inst.op == Op::Vtr;
  if (rowOp) {
    checkAligned(o.a, kVectorBytes, "vector source");
    checkAligned(o.d, kVectorBytes, "vector destination");
    for (const Access& acc : accessesOf(inst, o)) checkRange(core, acc.addr, acc.bytes, acc.write ? "vector destination" : "vector source");
  } else {
    for (const Access& acc : accessesOf(inst, o))
      if (acc.bytes % kVectorBytes)
        throw ExecError("vector length: " + std::to_string(o.n) + " elements of " +
                        std::to_string(acc.bytes / std::max<std::uint64_t>(o.n, 1)) + " bytes is " + std::to_string(acc.bytes) +
                        " bytes, not a whole number of 64 B vectors");
    checkVectorOperands(core, inst, o);
  }

  if (inst.op == Op::Vshuf) {
    // A lane permutation within each 64 B vector: d[l] = a[idx[l] mod lanes], idx = lanes bytes.
    if (!options.values && type != DType::I32) return res;
    const std::uint64_t size = std::uint64_t(dtypeSize(type)), lanes = kVectorBytes / size;
    std::uint8_t idx[kVectorBytes];
    core.sram.read(o.b, idx, lanes);
    std::vector<std::uint8_t> src(o.n * size), dst(src.size());
    core.sram.read(o.a, src.data(), src.size());
    for (std::uint64_t v = 0; v < o.n / lanes; ++v)
      for (std::uint64_t l = 0; l < lanes; ++l)
        std::memcpy(&dst[(v * lanes + l) * size], &src[(v * lanes + idx[l] % lanes) * size], size);
    core.sram.write(o.d, dst.data(), dst.size());
    return res;
  }
  if (inst.op == Op::Vtr) {
    // A pure data movement: done in timing-only runs too.
    const std::uint64_t size = std::uint64_t(dtypeSize(type));
    if (o.rows != 0 && o.cols > kSramAddressLimit / size / o.rows)
      throw ExecError("vtr of " + std::to_string(o.rows) + " x " + std::to_string(o.cols) + " elements is larger than any SRAM");
    std::vector<std::uint8_t> src(o.rows * o.cols * size), dst(src.size());
    core.sram.read(o.a, src.data(), src.size());
    for (std::uint64_t i = 0; i < o.rows; ++i)
      for (std::uint64_t j = 0; j < o.cols; ++j)
        std::memcpy(&dst[(j * o.rows + i) * size], &src[(i * o.cols + j) * size], size);
    core.sram.write(o.d, dst.data(), dst.size());
    return res;
  }
  if (type == DType::I32 && inst.op != Op::Vcvt && inst.op != Op::Vcvtsr) return integerOp(core, inst, o);

  const std::uint64_t n = o.n;
  const int bias = biasOf(t, type);
  switch (inst.op) {
    case Op::Vrowsum:
    case Op::Vrowmax:
    case Op::Vrowargmax:
    case Op::Vcolsum: {
      res.vectorFlops = o.rows * o.cols;
      if (!options.values) return res;
      std::vector<float> a(o.rows * o.cols);
      core.sram.read(o.a, a.data(), a.size() * 4);
      if (inst.op == Op::Vcolsum) {
        std::vector<float> d(o.cols);
        for (std::uint64_t j = 0; j < o.cols; ++j) {
          float acc = o.rows ? a[j] : 0.0f;
          for (std::uint64_t i = 1; i < o.rows; ++i) acc = canonical(acc + a[i * o.cols + j]);
          d[j] = acc;
        }
        core.sram.write(o.d, d.data(), d.size() * 4);
        return res;
      }
      std::vector<std::uint32_t> d(o.rows);
      for (std::uint64_t i = 0; i < o.rows; ++i) {
        const float* row = &a[i * o.cols];
        if (inst.op == Op::Vrowargmax) {
          std::uint32_t best = 0;
          bool found = false;
          for (std::uint64_t j = 0; j < o.cols; ++j) {
            if (row[j] != row[j]) continue;
            if (!found || row[j] > row[best]) best = std::uint32_t(j), found = true;
          }
          d[i] = best;
          continue;
        }
        float acc = o.cols ? row[0] : 0.0f;
        for (std::uint64_t j = 1; j < o.cols; ++j)
          acc = inst.op == Op::Vrowsum ? canonical(acc + row[j]) : fmax32(acc, row[j]);
        std::memcpy(&d[i], &acc, 4);
      }
      core.sram.write(o.d, d.data(), d.size() * 4);
      return res;
    }
    case Op::Vcvt:
    case Op::Vcvtsr: {
      const DType src = inst.type2;
      if (inst.op == Op::Vcvtsr && type != DType::Bf16 && type != DType::E4m3 && type != DType::E5m2)
        throw ExecError(std::string("vcvtsr: stochastic rounding needs a bf16, e4m3 or e5m2 destination, not ") + dtypeName(type));
      res.vectorFlops = n;
      if (!options.values && src != DType::I32 && type != DType::I32) return res;
      std::vector<float> v(n);
      if (src == DType::I32) {
        std::vector<std::int32_t> ints(n);
        core.sram.read(o.a, ints.data(), n * 4);
        for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<float>(ints[i]);
      } else {
        loadFloats(core.sram, o.a, src, n, biasOf(t, src), v.data());
      }
      if (type == DType::I32) {
        std::vector<std::int32_t> ints(n);
        for (std::uint64_t i = 0; i < n; ++i) {
          const float x = v[i];
          ints[i] = x != x ? 0 : x >= 2147483648.0f ? INT32_MAX : x <= -2147483648.0f ? INT32_MIN : std::int32_t(x);
        }
        core.sram.write(o.d, ints.data(), n * 4);
      } else if (inst.op == Op::Vcvt) {
        for (auto& x : v) x = canonical(x);
        storeFloats(core.sram, o.d, type, n, bias, v.data());
      } else {
        const FloatFormat f = formatOf(type, bias);
        const int size = dtypeSize(type);
        std::vector<std::uint8_t> out(n * std::uint64_t(size));
        for (std::uint64_t i = 0; i < n; ++i) {
          const std::uint32_t code = encode(f, v[i], Rounding::Stochastic, roundingBits(t.seed, o.tensor, o.elemBase + i));
          std::memcpy(&out[i * std::uint64_t(size)], &code, std::size_t(size));  // little-endian low bytes
        }
        core.sram.write(o.d, out.data(), out.size());
      }
      return res;
    }
    default: break;
  }

  res.vectorFlops = inst.op == Op::Vfma ? 2 * n : n;
  if (inst.op == Op::Vfill || inst.op == Op::Vsel) res.vectorFlops = 0;
  if (!options.values) return res;
  std::vector<float> a(n), b(n), c(n), d(n);
  float scalar;
  {
    const std::uint32_t bits = std::uint32_t(o.scalar);
    std::memcpy(&scalar, &bits, 4);
  }
  if (inst.op != Op::Vfill) loadFloats(core.sram, o.a, type, n, bias, a.data());
  switch (inst.op) {
    case Op::Vadd:
    case Op::Vsub:
    case Op::Vmul:
    case Op::Vmax:
    case Op::Vmin:
      loadFloats(core.sram, o.b, type, n, bias, b.data());
      for (std::uint64_t i = 0; i < n; ++i) d[i] = applyBinary(inst.op, a[i], b[i]);
      break;
    case Op::Vadds:
    case Op::Vmuls:
      for (std::uint64_t i = 0; i < n; ++i) d[i] = applyBinary(inst.op, a[i], scalar);
      break;
    case Op::Vfma:
      loadFloats(core.sram, o.b, type, n, bias, b.data());
      loadFloats(core.sram, o.c, type, n, bias, c.data());
      for (std::uint64_t i = 0; i < n; ++i) d[i] = canonical(std::fma(a[i], b[i], c[i]));
      break;
    case Op::Vexp: for (std::uint64_t i = 0; i < n; ++i) d[i] = exp32(a[i]); break;
    case Op::Vlog: for (std::uint64_t i = 0; i < n; ++i) d[i] = log32(a[i]); break;
    case Op::Vrcp: for (std::uint64_t i = 0; i < n; ++i) d[i] = rcp32(a[i]); break;
    case Op::Vrsqrt: for (std::uint64_t i = 0; i < n; ++i) d[i] = rsqrt32(a[i]); break;
    case Op::Vfill: for (std::uint64_t i = 0; i < n; ++i) d[i] = scalar; break;
    case Op::Vcmplt:
    case Op::Vcmple:
    case Op::Vcmpeq: {
      loadFloats(core.sram, o.b, type, n, bias, b.data());
      // Masks are raw bit patterns (all ones per lane), written without conversion.
      const int size = dtypeSize(type);
      std::vector<std::uint8_t> out(n * std::uint64_t(size));
      const std::uint32_t ones = laneMask(type);
      for (std::uint64_t i = 0; i < n; ++i) {
        const bool r = inst.op == Op::Vcmplt ? a[i] < b[i] : inst.op == Op::Vcmple ? a[i] <= b[i] : a[i] == b[i];
        const std::uint32_t m = r ? ones : 0;
        std::memcpy(&out[i * std::uint64_t(size)], &m, std::size_t(size));
      }
      core.sram.write(o.d, out.data(), out.size());
      return res;
    }
    case Op::Vsel: {
      // The mask is read as raw lanes: any non-zero lane selects the first value.
      const int size = dtypeSize(type);
      std::vector<std::uint8_t> mask(n * std::uint64_t(size));
      core.sram.read(o.a, mask.data(), mask.size());
      loadFloats(core.sram, o.b, type, n, bias, b.data());
      loadFloats(core.sram, o.c, type, n, bias, c.data());
      for (std::uint64_t i = 0; i < n; ++i) {
        std::uint32_t m = 0;
        std::memcpy(&m, &mask[i * std::uint64_t(size)], std::size_t(size));
        d[i] = m ? b[i] : c[i];
      }
      break;
    }
    default: throw ExecError(std::string("internal: unhandled vector op ") + opInfo(inst.op).mnemonic);
  }
  storeFloats(core.sram, o.d, type, n, bias, d.data());
  return res;
}

}  // namespace tatami::detail
