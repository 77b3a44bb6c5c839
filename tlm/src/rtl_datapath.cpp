// The RTL datapath adapter (see rtl_datapath.h): drives the verilated vector unit and matrix
// engine cycle by cycle and counts the cycles they take.
#include "tatami/tlm/rtl_datapath.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#ifdef TATAMI_WITH_RTL
#include "tatami/rtl/sc_blocks.h"
#endif

namespace tatami::tlm {

#ifdef TATAMI_WITH_RTL

struct RtlDatapath::Blocks {
  rtl::ScVectorUnit vector{"rtl_vector_unit"};
  rtl::ScMatrixEngine matrix{"rtl_matrix_engine"};
};

bool RtlDatapath::available() { return true; }

RtlDatapath::RtlDatapath(const ArchConfig& c) {
  const auto refuse = [](const std::string& key, long config, long built) {
    throw std::runtime_error("the RTL datapath was built with " + key + " = " + std::to_string(built) + ", but the configuration sets " +
                             std::to_string(config) + "; run those cores on the C++ datapath (sim.rtl_cores = none) or rebuild the RTL");
  };
  using rtl::ScMatrixEngine, rtl::ScVectorUnit;
  if (c.core.vector_latency_cycles != ScVectorUnit::latency()) refuse("core.vector_latency_cycles", c.core.vector_latency_cycles, ScVectorUnit::latency());
  if (c.core.matrix_latency_cycles != ScMatrixEngine::latency())
    refuse("core.matrix_latency_cycles", c.core.matrix_latency_cycles, ScMatrixEngine::latency());
  const int units = ScMatrixEngine::units() * ScMatrixEngine::units();
  if (c.core.matrix_units != units) refuse("core.matrix_units", c.core.matrix_units, units);
  if (c.core.matrix_dim != ScMatrixEngine::dim()) refuse("core.matrix_dim", c.core.matrix_dim, ScMatrixEngine::dim());
  if (c.core.fp32_fma_per_cycle != 16) refuse("core.fp32_fma_per_cycle (vector lanes)", c.core.fp32_fma_per_cycle, 16);
  if (c.core.sram_port_bytes != 64) refuse("core.sram_port_bytes", c.core.sram_port_bytes, 64);
  blocks_ = std::make_unique<Blocks>();  // SystemC models: named under the constructing core
}

RtlDatapath::~RtlDatapath() = default;

void RtlDatapath::traceTo(const std::string& prefix, std::uint64_t from, std::uint64_t to) {
  blocks_->vector.traceTo(prefix + ".vector.vcd");
  blocks_->matrix.traceTo(prefix + ".matrix.vcd");
  tracing_ = true, traceFrom_ = from, traceTo_ = to;
}

bool RtlDatapath::supports(const Instruction& inst) {
  switch (inst.op) {
    case Op::Vadd:
    case Op::Vsub:
    case Op::Vmul:
    case Op::Vmax:
    case Op::Vmin:
    case Op::Vfma: return inst.type != DType::I32;
    case Op::Vcvt:
    case Op::Vcvtsr: return inst.type != DType::I32 && inst.type2 != DType::I32;
    case Op::Mma:
    case Op::Mmaz: return inst.type == DType::Bf16 || inst.type == DType::E4m3 || inst.type == DType::E5m2;
    default: return false;
  }
}

RtlDatapath::Result RtlDatapath::run(const Instruction& inst, const Operands& o, const Sram& sram, const ThreadState& t,
                                     std::uint64_t startCycle) {
  Result r;
  if (tracing_) {
    const bool dump = startCycle >= traceFrom_ && startCycle < traceTo_;
    blocks_->vector.setTime(startCycle, dump);
    blocks_->matrix.setTime(startCycle, dump);
  }
  if (inst.op == Op::Mma || inst.op == Op::Mmaz) {
    // Command, then K panel rows back to back; the tile comes out LATENCY cycles after the last.
    const int k = int(o.n);
    rtl::ScMatrixEngine& m = blocks_->matrix;
    rtl::MatrixEngine::Tile c{};
    if (inst.op == Op::Mma) sram.read(o.c, c.data(), 1024);
    rtl::MatrixEngine::Inputs in;
    in.cmdValid = true, in.accumulate = inst.op == Op::Mma, in.k = k, in.c = &c;
    const bool cfp8 = inst.type != DType::Bf16;
    in.format = inst.type == DType::E4m3   ? rtl::MatrixEngine::Format::E4m3
                : inst.type == DType::E5m2 ? rtl::MatrixEngine::Format::E5m2
                                           : rtl::MatrixEngine::Format::Bf16;
    in.bias = inst.type == DType::E5m2 ? t.biasE5m2 : t.biasE4m3;
    const std::uint64_t rowBytes = cfp8 ? 16 : 32;
    while (!m.cycle(in).cmdReady) {
    }
    in.cmdValid = false, in.outReady = true;
    std::uint64_t cycles = 0;
    int sent = 0;
    rtl::MatrixEngine::Outputs out;
    for (;; ++cycles) {
      in.rowValid = sent < k;
      if (in.rowValid) {
        if (cfp8) {  // one byte per element, in the low byte of the RTL's 16-bit lane
          std::uint8_t a8[16], b8[16];
          sram.read(o.a + std::uint64_t(sent) * rowBytes, a8, 16);
          sram.read(o.b + std::uint64_t(sent) * rowBytes, b8, 16);
          for (int i = 0; i < 16; ++i) in.a[std::size_t(i)] = a8[i], in.b[std::size_t(i)] = b8[i];
        } else {
          sram.read(o.a + std::uint64_t(sent) * rowBytes, in.a.data(), 32);
          sram.read(o.b + std::uint64_t(sent) * rowBytes, in.b.data(), 32);
        }
      }
      out = m.cycle(in);
      if (in.rowValid && out.rowReady) ++sent;
      if (out.outValid) break;
    }
    r.addr = o.c;
    r.bytes.resize(1024);
    std::memcpy(r.bytes.data(), out.c.data(), 1024);
    r.acceptCycles = std::uint64_t(k);
    r.latencyCycles = cycles - std::uint64_t(k);
    return r;
  }
  // One 64 B vector per cycle: 64 / (the wider type's size) elements, results taken as they come.
  const auto type = [](DType x) {
    return x == DType::Bf16 ? rtl::VectorUnit::Type::Bf16 : x == DType::E4m3 ? rtl::VectorUnit::Type::E4m3
                            : x == DType::E5m2                   ? rtl::VectorUnit::Type::E5m2
                                                                 : rtl::VectorUnit::Type::F32;
  };
  const bool convert = inst.op == Op::Vcvt || inst.op == Op::Vcvtsr;
  rtl::VectorUnit::Command k;
  k.op = inst.op == Op::Vadd   ? rtl::VectorUnit::Op::Add
         : inst.op == Op::Vsub ? rtl::VectorUnit::Op::Sub
         : inst.op == Op::Vmul ? rtl::VectorUnit::Op::Mul
         : inst.op == Op::Vmax ? rtl::VectorUnit::Op::Max
         : inst.op == Op::Vmin ? rtl::VectorUnit::Op::Min
         : inst.op == Op::Vfma ? rtl::VectorUnit::Op::Fma
                               : rtl::VectorUnit::Op::Convert;
  k.dst = type(inst.type);
  k.src = convert ? type(inst.type2) : k.dst;
  k.stochastic = inst.op == Op::Vcvtsr;
  k.biasE4m3 = t.biasE4m3, k.biasE5m2 = t.biasE5m2;
  k.seed = t.seed, k.tensor = o.tensor;
  const std::uint64_t inSize = std::uint64_t(rtl::typeSize(k.src)), outSize = std::uint64_t(rtl::typeSize(k.dst));
  const std::uint64_t lanes = 64 / std::max(inSize, outSize), vectors = o.n / lanes;
  const bool binary = !convert, fused = inst.op == Op::Vfma;
  rtl::ScVectorUnit& v = blocks_->vector;
  r.addr = o.d;
  r.bytes.resize(o.n * outSize);
  rtl::VectorUnit::Vector a{}, b{}, c{};
  std::uint64_t offered = 0, received = 0, cycles = 0, accepted = 0;
  while (received < vectors) {
    const bool offer = offered < vectors;
    if (offer) {
      const std::uint64_t at = offered * lanes * inSize;
      sram.read(o.a + at, a.data(), lanes * inSize);
      if (binary) sram.read(o.b + at, b.data(), lanes * inSize);
      if (fused) sram.read(o.c + at, c.data(), lanes * inSize);
      k.element = o.elemBase + offered * lanes;
    }
    const rtl::VectorUnit::Outputs out = v.cycle(offer, k, a, b, c, true);
    if (out.outValid) std::memcpy(r.bytes.data() + (received++) * lanes * outSize, out.y.data(), lanes * outSize);
    if (offer && out.inReady) ++offered, accepted = cycles + 1;
    ++cycles;
  }
  r.acceptCycles = accepted;
  r.latencyCycles = cycles - accepted;
  return r;
}

#else

struct RtlDatapath::Blocks {};
bool RtlDatapath::available() { return false; }
RtlDatapath::RtlDatapath(const ArchConfig&) {
  throw std::runtime_error("sim.rtl_cores selects RTL cores, but this build has no RTL datapath (configure with Verilator: "
                           "-DTATAMI_WITH_VERILATOR=ON)");
}
RtlDatapath::~RtlDatapath() = default;
bool RtlDatapath::supports(const Instruction&) { return false; }
RtlDatapath::Result RtlDatapath::run(const Instruction&, const Operands&, const Sram&, const ThreadState&, std::uint64_t) { return {}; }
void RtlDatapath::traceTo(const std::string&, std::uint64_t, std::uint64_t) {}

#endif

}  // namespace tatami::tlm
