// Wrapper around the verilated matrix engine.
#include "tatami/rtl/matrix_engine.h"

#include "Vmatrix_engine.h"
#include "verilated_block.h"

namespace tatami::rtl {

struct MatrixEngine::Model : VerilatedBlock<Vmatrix_engine> {};

void MatrixEngine::traceTo(const std::string& path) { model_->traceTo(path); }
void MatrixEngine::setTime(std::uint64_t cycle, bool dump) { model_->setTime(cycle, dump); }

MatrixEngine::MatrixEngine() : model_(std::make_unique<Model>()) { reset(); }
MatrixEngine::~MatrixEngine() = default;

void MatrixEngine::reset() {
  auto& t = model_->top;
  t.cmd_valid = 0, t.row_valid = 0, t.out_ready = 0;
  model_->reset();
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
  model_->low();
  Outputs o;
  o.cmdReady = t.cmd_ready, o.rowReady = t.row_ready, o.outValid = t.out_valid;
  if (o.outValid)
    for (int e = 0; e < 256; ++e) o.c[std::size_t(e)] = t.c_out[e];
  model_->rise();
  return o;
}

}  // namespace tatami::rtl
