// The matrix engine's SystemC model behind ScMatrixEngine: signals for its ports, driven per cycle.
#include "Vmatrix_engine_sc.h"
#include "Vmatrix_engine_sc_matrix_engine.h"
#include "sc_block.h"
#include "tatami/rtl/sc_blocks.h"

namespace tatami::rtl {

struct ScMatrixEngine::Model : ScBlock<Vmatrix_engine_sc> {
  sc_core::sc_signal<bool> cmd_valid{"cmd_valid", false}, cmd_ready{"cmd_ready"}, cmd_accumulate{"cmd_accumulate", false},
      row_valid{"row_valid", false}, row_ready{"row_ready"}, out_valid{"out_valid"}, out_ready{"out_ready", false};
  sc_core::sc_signal<std::uint32_t> cmd_format{"cmd_format"}, cmd_bias{"cmd_bias"}, cmd_k{"cmd_k"}, latency_cycles{"latency_cycles"};
  sc_core::sc_signal<sc_dt::sc_bv<256 * 32>> c_in{"c_in"}, c_out{"c_out"};
  sc_core::sc_signal<sc_dt::sc_bv<16 * 16>> a_row{"a_row"}, b_row{"b_row"};

  explicit Model(sc_core::sc_module_name name) : ScBlock(name) {
    top.cmd_valid(cmd_valid), top.cmd_ready(cmd_ready), top.cmd_accumulate(cmd_accumulate), top.row_valid(row_valid);
    top.row_ready(row_ready), top.out_valid(out_valid), top.out_ready(out_ready);
    top.cmd_format(cmd_format), top.cmd_bias(cmd_bias), top.cmd_k(cmd_k), top.latency_cycles(latency_cycles);
    top.c_in(c_in), top.c_out(c_out), top.a_row(a_row), top.b_row(b_row);
  }
};

ScMatrixEngine::ScMatrixEngine(const char* name) : model_(std::make_unique<Model>(name)) {}
ScMatrixEngine::~ScMatrixEngine() = default;
int ScMatrixEngine::latency() { return int(Vmatrix_engine_sc_matrix_engine::LATENCY); }
int ScMatrixEngine::units() { return int(Vmatrix_engine_sc_matrix_engine::UNITS); }
int ScMatrixEngine::dim() { return int(Vmatrix_engine_sc_matrix_engine::DIM); }
void ScMatrixEngine::traceTo(const std::string& path) { model_->traceTo(path); }
void ScMatrixEngine::setTime(std::uint64_t cycle, bool dump) { model_->setTime(cycle, dump); }

MatrixEngine::Outputs ScMatrixEngine::cycle(const MatrixEngine::Inputs& in) {
  Model& m = *model_;
  m.resetOnce();
  m.cmd_valid.write(in.cmdValid);
  m.cmd_accumulate.write(in.accumulate);
  m.cmd_format.write(std::uint32_t(in.format));
  m.cmd_bias.write(std::uint32_t(in.bias));
  m.cmd_k.write(std::uint32_t(in.k));
  if (in.c) {
    sc_dt::sc_bv<256 * 32> c;
    for (int e = 0; e < 256; ++e) c.set_word(e, (*in.c)[std::size_t(e)]);
    m.c_in.write(c);
  }
  m.row_valid.write(in.rowValid);
  if (in.rowValid) {
    sc_dt::sc_bv<16 * 16> a, b;
    for (int w = 0; w < 8; ++w) {
      a.set_word(w, std::uint32_t(in.a[std::size_t(2 * w)]) | std::uint32_t(in.a[std::size_t(2 * w + 1)]) << 16);
      b.set_word(w, std::uint32_t(in.b[std::size_t(2 * w)]) | std::uint32_t(in.b[std::size_t(2 * w + 1)]) << 16);
    }
    m.a_row.write(a), m.b_row.write(b);
  }
  m.out_ready.write(in.outReady);
  m.low();
  MatrixEngine::Outputs o;
  o.cmdReady = m.cmd_ready.read(), o.rowReady = m.row_ready.read(), o.outValid = m.out_valid.read();
  if (o.outValid) {
    const sc_dt::sc_bv<256 * 32>& c = m.c_out.read();
    for (int e = 0; e < 256; ++e) o.c[std::size_t(e)] = std::uint32_t(c.get_word(e));
  }
  m.rise();
  return o;
}

}  // namespace tatami::rtl
