// Wrapper around the verilated vector unit.
#include "tatami/rtl/vector_unit.h"

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

VectorUnit::Outputs VectorUnit::cycle(bool inValid, Op op, const Lanes& a, const Lanes& b, bool outReady, const Lanes* c) {
  auto& t = model_->top;
  t.in_valid = inValid;
  t.op = static_cast<std::uint8_t>(op);
  t.out_ready = outReady;
  for (int i = 0; i < 16; ++i) t.a[i] = a[std::size_t(i)], t.b[i] = b[std::size_t(i)], t.c[i] = c ? (*c)[std::size_t(i)] : 0u;
  model_->low();
  Outputs o;
  o.inReady = t.in_ready;
  o.outValid = t.out_valid;
  for (int i = 0; i < 16; ++i) o.y[std::size_t(i)] = t.y[i];
  model_->rise();
  return o;
}

}  // namespace tatami::rtl
