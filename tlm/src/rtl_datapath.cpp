// The RTL datapath adapter (see rtl_datapath.h): drives the verilated vector unit and matrix
// engine cycle by cycle and counts the cycles they take.
#include "tatami/tlm/rtl_datapath.h"

#include <cstring>
#include <stdexcept>
#include <string>

#ifdef TATAMI_WITH_RTL
#include "tatami/rtl/matrix_engine.h"
#include "tatami/rtl/vector_unit.h"
#endif

namespace tatami::tlm {

#ifdef TATAMI_WITH_RTL

struct RtlDatapath::Blocks {
  rtl::VectorUnit vector;
  rtl::MatrixEngine matrix;
};

bool RtlDatapath::available() { return true; }

RtlDatapath::RtlDatapath(const ArchConfig& c) : blocks_(std::make_unique<Blocks>()) {
  const auto refuse = [](const std::string& key, long config, long built) {
    throw std::runtime_error("the RTL datapath was built with " + key + " = " + std::to_string(built) + ", but the configuration sets " +
                             std::to_string(config) + "; run those cores on the C++ datapath (sim.rtl_cores = none) or rebuild the RTL");
  };
  if (c.core.vector_latency_cycles != blocks_->vector.latency()) refuse("core.vector_latency_cycles", c.core.vector_latency_cycles, blocks_->vector.latency());
  if (c.core.matrix_latency_cycles != blocks_->matrix.latency()) refuse("core.matrix_latency_cycles", c.core.matrix_latency_cycles, blocks_->matrix.latency());
  if (c.core.matrix_units != 4) refuse("core.matrix_units", c.core.matrix_units, 4);
  if (c.core.matrix_dim != 8) refuse("core.matrix_dim", c.core.matrix_dim, 8);
  if (c.core.fp32_fma_per_cycle != 16) refuse("core.fp32_fma_per_cycle (vector lanes)", c.core.fp32_fma_per_cycle, 16);
  if (c.core.sram_port_bytes != 64) refuse("core.sram_port_bytes", c.core.sram_port_bytes, 64);
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
    case Op::Vfma: return inst.type == DType::F32;
    case Op::Vcvt:
      return (inst.type2 == DType::F32 && inst.type == DType::Bf16) || (inst.type2 == DType::Bf16 && inst.type == DType::F32);
    case Op::Mma:
    case Op::Mmaz: return inst.type == DType::Bf16 || inst.type == DType::E4m3 || inst.type == DType::E5m2;
    default: return false;
  }
}

RtlDatapath::Result RtlDatapath::run(const Instruction& inst, const Operands& o, const Sram& sram, int cfp8Bias,
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
    rtl::MatrixEngine& m = blocks_->matrix;
    rtl::MatrixEngine::Tile c{};
    if (inst.op == Op::Mma) sram.read(o.c, c.data(), 1024);
    rtl::MatrixEngine::Inputs in;
    in.cmdValid = true, in.accumulate = inst.op == Op::Mma, in.k = k, in.c = &c;
    const bool cfp8 = inst.type != DType::Bf16;
    in.format = inst.type == DType::E4m3   ? rtl::MatrixEngine::Format::E4m3
                : inst.type == DType::E5m2 ? rtl::MatrixEngine::Format::E5m2
                                           : rtl::MatrixEngine::Format::Bf16;
    in.bias = cfp8Bias;
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
    r.matrixFlops = 2ull * 256ull * std::uint64_t(k);
    return r;
  }
  if (inst.op == Op::Vcvt) {
    // 16 elements a cycle (one 64 B vector of FP32 on the wider side); BF16 in each lane's low half.
    const bool narrow = inst.type == DType::Bf16;
    rtl::VectorUnit& v = blocks_->vector;
    const std::uint64_t groups = o.n / 16;
    r.addr = o.d;
    r.bytes.resize(o.n * (narrow ? 2 : 4));
    rtl::VectorUnit::Lanes a{}, none{};
    std::uint64_t offered = 0, received = 0, cycles = 0, accepted = 0;
    while (received < groups) {
      const bool offer = offered < groups;
      if (offer) {
        if (narrow) {
          sram.read(o.a + offered * 64, a.data(), 64);
        } else {
          std::uint16_t h[16];
          sram.read(o.a + offered * 32, h, 32);
          for (int i = 0; i < 16; ++i) a[std::size_t(i)] = h[i];
        }
      }
      const rtl::VectorUnit::Outputs out =
          v.cycle(offer, narrow ? rtl::VectorUnit::Op::ToBf16 : rtl::VectorUnit::Op::FromBf16, a, none, true);
      if (out.outValid) {
        if (narrow) {
          std::uint16_t h[16];
          for (int i = 0; i < 16; ++i) h[i] = std::uint16_t(out.y[std::size_t(i)]);
          std::memcpy(r.bytes.data() + received * 32, h, 32);
        } else {
          std::memcpy(r.bytes.data() + received * 64, out.y.data(), 64);
        }
        ++received;
      }
      if (offer && out.inReady) ++offered, accepted = cycles + 1;
      ++cycles;
    }
    r.acceptCycles = accepted;
    r.latencyCycles = cycles - accepted;
    r.vectorFlops = 0;
    return r;
  }
  // Vectors of 16 lanes, one offered per cycle; results taken as they come.
  const std::uint64_t vectors = o.n / 16;
  rtl::VectorUnit& v = blocks_->vector;
  const auto op = inst.op == Op::Vadd   ? rtl::VectorUnit::Op::Add
                  : inst.op == Op::Vsub ? rtl::VectorUnit::Op::Sub
                  : inst.op == Op::Vmul ? rtl::VectorUnit::Op::Mul
                  : inst.op == Op::Vmax ? rtl::VectorUnit::Op::Max
                  : inst.op == Op::Vfma ? rtl::VectorUnit::Op::Fma
                                        : rtl::VectorUnit::Op::Min;
  const bool fused = inst.op == Op::Vfma;
  r.addr = o.d;
  r.bytes.resize(vectors * 64);
  rtl::VectorUnit::Lanes a{}, b{}, c{};
  std::uint64_t offered = 0, received = 0, cycles = 0, accepted = 0;
  while (received < vectors) {
    const bool offer = offered < vectors;
    if (offer) {
      sram.read(o.a + offered * 64, a.data(), 64);
      sram.read(o.b + offered * 64, b.data(), 64);
      if (fused) sram.read(o.c + offered * 64, c.data(), 64);
    }
    const rtl::VectorUnit::Outputs out = v.cycle(offer, op, a, b, true, &c);
    if (out.outValid) std::memcpy(r.bytes.data() + (received++) * 64, out.y.data(), 64);
    if (offer && out.inReady) ++offered, accepted = cycles + 1;
    ++cycles;
  }
  r.acceptCycles = accepted;
  r.latencyCycles = cycles - accepted;
  r.vectorFlops = fused ? 2 * o.n : o.n;
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
RtlDatapath::Result RtlDatapath::run(const Instruction&, const Operands&, const Sram&, int, std::uint64_t) { return {}; }
void RtlDatapath::traceTo(const std::string&, std::uint64_t, std::uint64_t) {}

#endif

}  // namespace tatami::tlm
