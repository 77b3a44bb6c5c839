// Wrapper around the verilated vector unit.
#include "tatami/rtl/vector_unit.h"

#include "Vvector_unit.h"
#include "verilated.h"
#include "verilated_vcd_c.h"

namespace tatami::rtl {

struct VectorUnit::Model {
  VerilatedContext context;
  Vvector_unit top{&context};
  std::unique_ptr<VerilatedVcdC> vcd;
  std::uint64_t time = 0;
  bool dump = false;
  void edge() {  // after an eval: record it at the half cycle
    if (vcd && dump) vcd->dump(time);
    ++time;
  }
};

void VectorUnit::traceTo(const std::string& path) {
  model_->context.traceEverOn(true);
  model_->vcd = std::make_unique<VerilatedVcdC>();
  model_->top.trace(model_->vcd.get(), 1);
  model_->vcd->open(path.c_str());
}

void VectorUnit::setTime(std::uint64_t cycle, bool dump) {
  model_->time = 2 * cycle;
  model_->dump = dump;
}

VectorUnit::VectorUnit() : model_(std::make_unique<Model>()) { reset(); }
VectorUnit::~VectorUnit() {
  model_->top.final();
  if (model_->vcd) model_->vcd->close();
}

void VectorUnit::reset() {
  auto& t = model_->top;
  t.clk = 0, t.rst_n = 0, t.in_valid = 0, t.out_ready = 0;
  t.eval();
  t.clk = 1;
  t.eval();
  t.clk = 0, t.rst_n = 1;
  t.eval();
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
  t.clk = 0;
  t.eval();
  model_->edge();
  Outputs o;
  o.inReady = t.in_ready;
  o.outValid = t.out_valid;
  for (int i = 0; i < 16; ++i) o.y[std::size_t(i)] = t.y[i];
  t.clk = 1;
  t.eval();
  model_->edge();
  t.clk = 0;
  t.eval();
  return o;
}

}  // namespace tatami::rtl
