// What every wrapper of a verilated block shares: the model in its own context, reset, the
// clock edges, and an optional VCD of its ports (time in half cycles of the core clock).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "verilated.h"
#include "verilated_vcd_c.h"

namespace tatami::rtl {

template <class Top>
struct VerilatedBlock {
  VerilatedContext context;
  Top top{&context};
  std::unique_ptr<VerilatedVcdC> vcd;
  std::uint64_t time = 0;
  bool dump = false;

  ~VerilatedBlock() {
    top.final();
    if (vcd) vcd->close();
  }
  /// One cycle with reset held (the caller has set the block's valid inputs low).
  void reset() {
    top.clk = 0, top.rst_n = 0;
    top.eval();
    top.clk = 1;
    top.eval();
    top.clk = 0, top.rst_n = 1;
    top.eval();
  }
  void traceTo(const std::string& path) {
    context.traceEverOn(true);
    vcd = std::make_unique<VerilatedVcdC>();
    top.trace(vcd.get(), 1);
    vcd->open(path.c_str());
  }
  void setTime(std::uint64_t cycle, bool on) { time = 2 * cycle, dump = on; }
  /// Evaluates with the clock low (inputs set), then ...
  void low() {
    top.clk = 0;
    top.eval();
    edge();
  }
  /// ... the rising edge, and back low.
  void rise() {
    top.clk = 1;
    top.eval();
    edge();
    top.clk = 0;
    top.eval();
  }

 private:
  void edge() {
    if (vcd && dump) vcd->dump(time);
    ++time;
  }
};

}  // namespace tatami::rtl
