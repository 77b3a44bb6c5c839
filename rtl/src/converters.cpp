// Wrapper around the verilated conversion blocks.
#include "tatami/rtl/converters.h"

#include "Vfp32_to_bf16.h"
#include "verilated.h"

namespace tatami::rtl {

struct Fp32ToBf16::Model {
  VerilatedContext context;
  Vfp32_to_bf16 top{&context};
};

Fp32ToBf16::Fp32ToBf16() : model_(std::make_unique<Model>()) {}
Fp32ToBf16::~Fp32ToBf16() { model_->top.final(); }

std::uint16_t Fp32ToBf16::convert(std::uint32_t fp32Bits) {
  model_->top.in_fp32 = fp32Bits;
  model_->top.eval();
  return static_cast<std::uint16_t>(model_->top.out_bf16);
}

}  // namespace tatami::rtl
