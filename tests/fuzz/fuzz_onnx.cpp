// libFuzzer target: ONNX model bytes imported by the front end, then the training step built on
// what it accepts (autodiff, the optimizer, the graph passes). A CompileError naming the problem is the expected answer to bad input;
// anything else (a crash, a hang, another exception) is a finding.
#include <cstdint>
#include <string>

#include "tatami/compiler/ir.h"
#include "tatami/compiler/onnx_import.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/driver/step.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    tatami::compiler::ImportOptions options;
    options.batch = 4;
    tatami::compiler::Graph g = tatami::compiler::importOnnxBytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx", options);
    // What tatami check does next: the training step (loss, backward, update) and the passes.
    tatami::driver::CompileRequest r;
    r.loss = "mse";
    tatami::compiler::runPipeline(g, tatami::driver::trainingPipeline(r), {}, nullptr);
  } catch (const tatami::compiler::CompileError&) {
  } catch (const tatami::driver::RequestError&) {
  }
  return 0;
}
