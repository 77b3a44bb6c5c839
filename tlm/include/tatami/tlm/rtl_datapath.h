// The verilated RTL datapath (rtl/sv as Verilator's SystemC models) standing in for a core's C++
// vector and matrix datapath: vadd/vsub/vmul/vfma/vmax/vmin and vcvt/vcvtsr on FP32, BF16 and CFP8
// elements, and BF16/CFP8 mma/mmaz run through the verilated blocks, clocked (delta cycles of the
// calling core's thread) only while an instruction runs, and give the instruction's values and its
// datapath cycles. Construct it while the core is elaborated; run() from the core's thread. Built
// with Verilator only; without it, constructing one throws.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/arch/isa.h"
#include "tatami/arch/semantics.h"

namespace tatami::tlm {

class RtlDatapath {
 public:
  /// Throws std::runtime_error when this build has no RTL, or when a datapath parameter of
  /// `config` differs from what the RTL was built with (naming both values).
  explicit RtlDatapath(const ArchConfig& config);
  /// Waveforms: the blocks' ports go to `prefix`.vector.vcd and `prefix`.matrix.vcd for the
  /// instructions that start in core cycles [from, to) (VCD time: half cycles of the core clock).
  void traceTo(const std::string& prefix, std::uint64_t from, std::uint64_t to);
  ~RtlDatapath();
  static bool available();
  /// Whether the RTL executes this instruction (the others run on the C++ datapath).
  static bool supports(const Instruction& inst);

  struct Result {
    std::uint64_t addr = 0;             ///< where the result goes in SRAM
    std::vector<std::uint8_t> bytes;    ///< the result, in the destination type
    std::uint64_t acceptCycles = 0;     ///< cycles the datapath takes operands (the unit's occupancy)
    std::uint64_t latencyCycles = 0;    ///< then cycles until the last result
  };
  /// Runs `inst` on the RTL with its operands read from `sram`; `thread` is the issuing thread
  /// (its CFP8 exponent biases and stochastic rounding seed).
  Result run(const Instruction& inst, const Operands& ops, const Sram& sram, const ThreadState& thread, std::uint64_t startCycle = 0);

 private:
  struct Blocks;
  std::unique_ptr<Blocks> blocks_;
  // Waveform window (traceTo); unused in a build without Verilator.
  [[maybe_unused]] bool tracing_ = false;
  [[maybe_unused]] std::uint64_t traceFrom_ = 0, traceTo_ = 0;
};

}  // namespace tatami::tlm
