// Wrapper around the verilated vector unit.
#include "tatami/rtl/vector_unit.h"

#include <cstring>

#include "Vvector_unit.h"
#include "verilated_block.h"

namespace tatami::rtl {

struct VectorUnit::Model : VerilatedBlock<Vvector_unit> {};

void VectorUnit::traceTo(const std::string& path) { model_->traceTo(path); }
void VectorUnit::setTime(std::uint64_t cycle, bool dump) { model_->setTime(cycle, dump); }

VectorUnit::VectorUnit() : model_(std::make_unique<Model>()) { reset(); }
VectorUnit::~VectorUnit() = default;

void VectorUnit::reset() {
  auto& t = model_->top;
  t.in_valid = 0, t.out_ready = 0;
  model_->reset();
}

int VectorUnit::latency() {
  model_->top.eval();
  return int(model_->top.latency_cycles);
}

namespace {

template <class Wide>
void put(Wide& port, const VectorUnit::Vector& v) {
  for (int w = 0; w < 16; ++w) {
    std::uint32_t word;
    std::memcpy(&word, v.data() + 4 * w, 4);  // little-endian: byte 0 is bits 7:0
    port[w] = word;
  }
}

}  // namespace

VectorUnit::Outputs VectorUnit::cycle(bool inValid, const Command& k, const Vector& a, const Vector& b, const Vector& c, bool outReady) {
  auto& t = model_->top;
  t.in_valid = inValid;
  t.op = static_cast<std::uint8_t>(k.op);
  t.src_type = static_cast<std::uint8_t>(k.src);
  t.dst_type = static_cast<std::uint8_t>(k.dst);
  t.stochastic = k.stochastic;
  t.bias_e4m3 = std::uint8_t(k.biasE4m3), t.bias_e5m2 = std::uint8_t(k.biasE5m2);
  t.seed = k.seed, t.tensor = k.tensor, t.element = k.element;
  t.out_ready = outReady;
  put(t.a, a), put(t.b, b), put(t.c, c);
  model_->low();
  Outputs o;
  o.inReady = t.in_ready;
  o.outValid = t.out_valid;
  for (int w = 0; w < 16; ++w) {
    const std::uint32_t word = t.y[w];
    std::memcpy(o.y.data() + 4 * w, &word, 4);
  }
  model_->rise();
  return o;
}

}  // namespace tatami::rtl
