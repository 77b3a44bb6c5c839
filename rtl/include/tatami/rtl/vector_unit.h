// Plain C++ access to the verilated vector unit (rtl/sv/vector_unit.sv): 16 FP32 lanes of add,
// sub, mul, fused multiply-add, max and min behind a valid/ready pipeline, clocked one cycle at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace tatami::rtl {

class VectorUnit {
 public:
  /// ToBf16: FP32 lanes to BF16 (round to nearest even) in each lane's low half; FromBf16: the
  /// BF16 value in each lane's low half to FP32.
  enum class Op : std::uint8_t { Add = 0, Sub = 1, Mul = 2, Max = 3, Min = 4, Fma = 5, ToBf16 = 6, FromBf16 = 7 };
  using Lanes = std::array<std::uint32_t, 16>;  ///< FP32 bit patterns

  VectorUnit();
  ~VectorUnit();
  /// Holds reset for a cycle: the pipeline empties.
  void reset();
  /// From now on, writes the block's ports to a VCD file while dumping is on (setTime).
  void traceTo(const std::string& path);
  /// The core cycle of the next clock (VCD time), and whether cycles are dumped.
  void setTime(std::uint64_t cycle, bool dump);
  /// The pipeline depth the RTL was built with (its LATENCY parameter).
  int latency();

  struct Outputs {
    bool inReady = false;   ///< the inputs offered this cycle were taken
    bool outValid = false;  ///< `y` holds a result (before this cycle's edge)
    Lanes y{};
  };
  /// One clock cycle: offers a vector (if inValid) and takes the presented result (if outReady).
  Outputs cycle(bool inValid, Op op, const Lanes& a, const Lanes& b, bool outReady, const Lanes* c = nullptr);

 private:
  struct Model;
  std::unique_ptr<Model> model_;
};

}  // namespace tatami::rtl
