// Plain C++ access to the verilated matrix engine (rtl/sv/matrix_engine.sv): one 16 x 16 FP32
// tile from K panel rows of BF16 or CFP8 A and B, behind valid/ready streams, clocked one cycle at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace tatami::rtl {

class MatrixEngine {
 public:
  using Tile = std::array<std::uint32_t, 256>;  ///< C, row-major FP32 bits
  using Row = std::array<std::uint16_t, 16>;    ///< one panel row: BF16 bits, or a CFP8 code in the low byte
  enum class Format : std::uint8_t { Bf16 = 0, E4m3 = 1, E5m2 = 2 };

  MatrixEngine();
  ~MatrixEngine();
  void reset();
  /// From now on, writes the block's ports to a VCD file while dumping is on (setTime).
  void traceTo(const std::string& path);
  /// The core cycle of the next clock (VCD time), and whether cycles are dumped.
  void setTime(std::uint64_t cycle, bool dump);
  int latency();  ///< the LATENCY the RTL was built with

  struct Inputs {
    bool cmdValid = false, accumulate = false;
    Format format = Format::Bf16;
    int bias = 0;  ///< CFP8 exponent bias
    int k = 0;
    const Tile* c = nullptr;  ///< for accumulate
    bool rowValid = false;
    Row a{}, b{};
    bool outReady = false;
  };
  struct Outputs {
    bool cmdReady = false, rowReady = false, outValid = false;
    Tile c{};  ///< valid when outValid
  };
  /// One clock cycle (the outputs are those before its edge).
  Outputs cycle(const Inputs& in);

 private:
  struct Model;
  std::unique_ptr<Model> model_;
};

}  // namespace tatami::rtl
