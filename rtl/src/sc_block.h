// What the SystemC wrappers share: a module holding the model and its signals, the clock and reset
// driven from the calling thread (a delta cycle for the signals to update, one for the model's
// evaluation), and an optional VCD of its ports with time in half cycles of the core clock (opened
// at the first cycle: Verilator traces a SystemC model only once elaboration is complete).
#pragma once

#include <systemc>

#include <cstdint>
#include <memory>
#include <string>

#include "verilated.h"
#include "verilated_vcd_c.h"

namespace tatami::rtl {

template <class Top>
struct ScBlock : sc_core::sc_module {
  sc_core::sc_signal<bool> clk{"clk", false}, rst_n{"rst_n", false};
  Top top{"model"};
  std::unique_ptr<VerilatedVcdC> vcd;
  std::string vcdPath;
  std::uint64_t time = 0;
  bool dump = false, wasReset = false;

  explicit ScBlock(sc_core::sc_module_name name) : sc_core::sc_module(name) {
    top.clk(clk);
    top.rst_n(rst_n);
  }
  ~ScBlock() override {
    if (vcd) vcd->close();
  }
  void traceTo(const std::string& path) {
    Verilated::traceEverOn(true);
    vcdPath = path;
  }
  void setTime(std::uint64_t cycle, bool on) { time = 2 * cycle, dump = on; }
  /// The inputs written so far reach the model and its outputs settle.
  void settle() {
    sc_core::wait(sc_core::SC_ZERO_TIME);
    sc_core::wait(sc_core::SC_ZERO_TIME);
  }
  /// Before the first cycle: one clock with reset held (valid inputs are low).
  void resetOnce() {
    if (wasReset) return;
    wasReset = true;
    if (!vcdPath.empty()) {
      vcd = std::make_unique<VerilatedVcdC>();
      top.trace(vcd.get(), 1);
      vcd->open(vcdPath.c_str());
    }
    rst_n.write(false), clk.write(false);
    settle();
    clk.write(true);
    settle();
    clk.write(false), rst_n.write(true);
    settle();
  }
  /// The clock low with this cycle's inputs, then ...
  void low() {
    clk.write(false);
    settle();
    edge();
  }
  /// ... the rising edge.
  void rise() {
    clk.write(true);
    settle();
    edge();
  }

 private:
  void edge() {
    if (vcd && dump) vcd->dump(time);
    ++time;
  }
};

}  // namespace tatami::rtl
