// The vector unit's SystemC model behind ScVectorUnit: signals for its ports, driven per cycle.
#include <cstring>

#include "Vvector_unit_sc.h"
#include "Vvector_unit_sc_vector_unit.h"
#include "sc_block.h"
#include "tatami/rtl/sc_blocks.h"

namespace tatami::rtl {

struct ScVectorUnit::Model : ScBlock<Vvector_unit_sc> {
  sc_core::sc_signal<bool> in_valid{"in_valid", false}, in_ready{"in_ready"}, stochastic{"stochastic", false}, out_valid{"out_valid"},
      out_ready{"out_ready", false};
  sc_core::sc_signal<std::uint32_t> op{"op"}, src_type{"src_type"}, dst_type{"dst_type"}, bias_e4m3{"bias_e4m3"}, bias_e5m2{"bias_e5m2"},
      latency_cycles{"latency_cycles"};
  sc_core::sc_signal<std::uint64_t> seed{"seed"}, tensor{"tensor"}, element{"element"};
  sc_core::sc_signal<sc_dt::sc_bv<512>> a{"a"}, b{"b"}, c{"c"}, y{"y"};

  explicit Model(sc_core::sc_module_name name) : ScBlock(name) {
    top.in_valid(in_valid), top.in_ready(in_ready), top.stochastic(stochastic), top.out_valid(out_valid), top.out_ready(out_ready);
    top.op(op), top.src_type(src_type), top.dst_type(dst_type), top.bias_e4m3(bias_e4m3), top.bias_e5m2(bias_e5m2);
    top.latency_cycles(latency_cycles);
    top.seed(seed), top.tensor(tensor), top.element(element);
    top.a(a), top.b(b), top.c(c), top.y(y);
  }
};

namespace {

sc_dt::sc_bv<512> bits(const VectorUnit::Vector& v) {
  sc_dt::sc_bv<512> out;
  for (int w = 0; w < 16; ++w) {
    std::uint32_t word;
    std::memcpy(&word, v.data() + 4 * w, 4);  // little-endian: byte 0 is bits 7:0
    out.set_word(w, word);
  }
  return out;
}

}  // namespace

ScVectorUnit::ScVectorUnit(const char* name) : model_(std::make_unique<Model>(name)) {}
ScVectorUnit::~ScVectorUnit() = default;
int ScVectorUnit::latency() { return int(Vvector_unit_sc_vector_unit::LATENCY); }
void ScVectorUnit::traceTo(const std::string& path) { model_->traceTo(path); }
void ScVectorUnit::setTime(std::uint64_t cycle, bool dump) { model_->setTime(cycle, dump); }

VectorUnit::Outputs ScVectorUnit::cycle(bool inValid, const VectorUnit::Command& k, const VectorUnit::Vector& a, const VectorUnit::Vector& b,
                                        const VectorUnit::Vector& c, bool outReady) {
  Model& m = *model_;
  m.resetOnce();
  m.in_valid.write(inValid);
  m.op.write(std::uint32_t(k.op)), m.src_type.write(std::uint32_t(k.src)), m.dst_type.write(std::uint32_t(k.dst));
  m.stochastic.write(k.stochastic);
  m.bias_e4m3.write(std::uint32_t(k.biasE4m3)), m.bias_e5m2.write(std::uint32_t(k.biasE5m2));
  m.seed.write(k.seed), m.tensor.write(k.tensor), m.element.write(k.element);
  m.a.write(bits(a)), m.b.write(bits(b)), m.c.write(bits(c));
  m.out_ready.write(outReady);
  m.low();
  VectorUnit::Outputs o;
  o.inReady = m.in_ready.read();
  o.outValid = m.out_valid.read();
  const sc_dt::sc_bv<512>& y = m.y.read();
  for (int w = 0; w < 16; ++w) {
    const std::uint32_t word = std::uint32_t(y.get_word(w));
    std::memcpy(o.y.data() + 4 * w, &word, 4);
  }
  m.rise();
  return o;
}

}  // namespace tatami::rtl
