// Plain C++ access to the verilated conversion blocks, so that no other TU includes Verilator's
// generated headers (a change to the SystemVerilog then recompiles only the wrapper).
#pragma once

#include <cstdint>
#include <memory>

namespace tatami::rtl {

/// The verilated fp32_to_bf16 block, evaluated combinationally.
class Fp32ToBf16 {
 public:
  Fp32ToBf16();
  ~Fp32ToBf16();
  std::uint16_t convert(std::uint32_t fp32Bits);

 private:
  struct Model;
  std::unique_ptr<Model> model_;
};

}  // namespace tatami::rtl
