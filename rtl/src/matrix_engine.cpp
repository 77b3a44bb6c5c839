// Wrapper around the verilated matrix engine.
#include "tatami/rtl/matrix_engine.h"

#include "Vmatrix_engine.h"
#include "verilated.h"
#include "verilated_vcd_c.h"

namespace tatami::rtl {

struct MatrixEngine::Model {
  VerilatedContext context;
  Vmatrix_engine top{&context};
  std::unique_ptr<VerilatedVcdC> vcd;
  std::uint64_t time = 0;
  bool dump = false;
  void edge() {  // after an eval: record it at the half cycle
    if (vcd && dump) vcd->dump(time);
    ++time;
  }
};

void MatrixEngine::traceTo(const std::string& path) {
  model_->context.traceEverOn(true);
  model_->vcd = std::make_unique<VerilatedVcdC>();
  model_->top.trace(model_->vcd.get(), 1);
  model_->vcd->open(path.c_str());
}

void MatrixEngine::setTime(std::uint64_t cycle, bool dump) {
  model_->time = 2 * cycle;
  model_->dump = dump;
}

MatrixEngine::MatrixEngine() : model_(std::make_unique<Model>()) { reset(); }
MatrixEngine::~MatrixEngine() {
  model_->top.final();
  if (model_->vcd) model_->vcd->close();
}

void MatrixEngine::reset() {
  auto& t = model_->top;
  t.clk = 0, t.rst_n = 0, t.cmd_valid = 0, t.row_valid = 0, t.out_ready = 0;
  t.eval();
  t.clk = 1;
  t.eval();
  t.clk = 0, t.rst_n = 1;
  t.eval();
}

int MatrixEngine::latency() {
  model_->top.eval();
  return int(model_->top.latency_cycles);
}

MatrixEngine::Outputs MatrixEngine::cycle(const Inputs& in) {
  auto& t = model_->top;
  t.cmd_valid = in.cmdValid;
  t.cmd_accumulate = in.accumulate;
  t.cmd_format = static_cast<std::uint8_t>(in.format);
  t.cmd_bias = std::uint8_t(in.bias);
  t.cmd_k = std::uint16_t(in.k);
  if (in.c)
    for (int e = 0; e < 256; ++e) t.c_in[e] = (*in.c)[std::size_t(e)];
  t.row_valid = in.rowValid;
  for (int w = 0; w < 8; ++w) {
    t.a_row[w] = std::uint32_t(in.a[std::size_t(2 * w)]) | std::uint32_t(in.a[std::size_t(2 * w + 1)]) << 16;
    t.b_row[w] = std::uint32_t(in.b[std::size_t(2 * w)]) | std::uint32_t(in.b[std::size_t(2 * w + 1)]) << 16;
  }
  t.out_ready = in.outReady;
  t.clk = 0;
  t.eval();
  model_->edge();
  Outputs o;
  o.cmdReady = t.cmd_ready, o.rowReady = t.row_ready, o.outValid = t.out_valid;
  if (o.outValid)
    for (int e = 0; e < 256; ++e) o.c[std::size_t(e)] = t.c_out[e];
  t.clk = 1;
  t.eval();
  model_->edge();
  t.clk = 0;
  t.eval();
  return o;
}

}  // namespace tatami::rtl
