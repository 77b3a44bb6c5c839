// libFuzzer target: ONNX model bytes imported by the front end, then the training step built on
// what it accepts (autodiff, the optimizer, the graph passes). A CompileError naming the problem
// is the expected answer to bad input; anything else (a crash, a hang, another exception) is a
// finding.
#include <cstdint>
#include <string>

#include "tatami/compiler/onnx_import.h"
#include "training_step.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tatami::compiler::Graph g;
  try {
    tatami::compiler::ImportOptions options;
    options.batch = 4;
    g = tatami::compiler::importOnnxBytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx", options);
  } catch (const tatami::compiler::CompileError&) {
    return 0;
  }
  fuzzTrainingStep(g);
  return 0;
}
