// Plain C++ access to the verilated FP32 -> narrow-format encoders (rtl/sv/fp32_to_narrow.sv, one
// build per destination format), so that no other TU includes Verilator's generated headers.
#pragma once

#include <cstdint>
#include <memory>

namespace tatami::rtl {

class NarrowEncoder {
 public:
  enum class Format { Bf16, E4m3, E5m2 };
  explicit NarrowEncoder(Format format);
  ~NarrowEncoder();
  /// The code of FP32 `fp32Bits` (right-aligned); `bias` is ignored for BF16 (127).
  std::uint32_t encode(std::uint32_t fp32Bits, int bias, bool stochastic, std::uint32_t randomBits);

 private:
  struct Model;
  std::unique_ptr<Model> model_;
};

}  // namespace tatami::rtl
