// Plain C++ access to the verilated vector unit (rtl/sv/vector_unit.sv): one 64 B vector per cycle
// of add, sub, mul, fused multiply-add, max, min or conversion on FP32, BF16 or CFP8 elements,
// behind a valid/ready pipeline, clocked one cycle at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace tatami::rtl {

class VectorUnit {
 public:
  enum class Op : std::uint8_t { Add = 0, Sub = 1, Mul = 2, Max = 3, Min = 4, Fma = 5, Convert = 6 };
  enum class Type : std::uint8_t { F32 = 0, Bf16 = 1, E4m3 = 2, E5m2 = 3 };
  /// What the unit does with the vectors offered: arithmetic keeps dst = src; a conversion takes
  /// 64 / max(size of src, size of dst) elements packed from byte 0 and returns them packed.
  struct Command {
    Op op = Op::Add;
    Type src = Type::F32, dst = Type::F32;
    bool stochastic = false;  ///< stochastic rounding of narrow results
    int biasE4m3 = 7, biasE5m2 = 15;
    std::uint64_t seed = 0, tensor = 0, element = 0;  ///< the draw of lane l: (seed; tensor, element + l)
  };
  using Vector = std::array<std::uint8_t, 64>;

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
    Vector y{};
  };
  /// One clock cycle: offers a vector (if inValid) and takes the presented result (if outReady).
  Outputs cycle(bool inValid, const Command& command, const Vector& a, const Vector& b, const Vector& c, bool outReady);

 private:
  struct Model;
  std::unique_ptr<Model> model_;
};

/// Bytes per element of a type.
inline int typeSize(VectorUnit::Type t) { return t == VectorUnit::Type::F32 ? 4 : t == VectorUnit::Type::Bf16 ? 2 : 1; }

}  // namespace tatami::rtl
