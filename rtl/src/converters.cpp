// Wrapper around the verilated encoders: the three builds have the same ports.
#include "tatami/rtl/converters.h"

#include "Vfp32_to_bf16.h"
#include "Vfp32_to_e4m3.h"
#include "Vfp32_to_e5m2.h"
#include "verilated.h"

namespace tatami::rtl {

struct NarrowEncoder::Model {
  VerilatedContext context;
  Format format;
  Vfp32_to_bf16 bf16{&context};
  Vfp32_to_e4m3 e4m3{&context};
  Vfp32_to_e5m2 e5m2{&context};

  template <class Top>
  static std::uint32_t run(Top& top, std::uint32_t x, int bias, bool stochastic, std::uint32_t rnd) {
    top.x = x, top.bias = std::uint8_t(bias), top.stochastic = stochastic, top.rnd = rnd;
    top.eval();
    return top.code;
  }
};

NarrowEncoder::NarrowEncoder(Format format) : model_(std::make_unique<Model>()) { model_->format = format; }
NarrowEncoder::~NarrowEncoder() {
  model_->bf16.final(), model_->e4m3.final(), model_->e5m2.final();
}

std::uint32_t NarrowEncoder::encode(std::uint32_t x, int bias, bool stochastic, std::uint32_t rnd) {
  switch (model_->format) {
    case Format::Bf16: return Model::run(model_->bf16, x, 127, stochastic, rnd);
    case Format::E4m3: return Model::run(model_->e4m3, x, bias, stochastic, rnd);
    case Format::E5m2: return Model::run(model_->e5m2, x, bias, stochastic, rnd);
  }
  return 0;
}

}  // namespace tatami::rtl
