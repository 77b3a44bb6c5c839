// libFuzzer target: the text IR reader, the verifier, and the training step built on what they
// accept (autodiff, the optimizer, the graph passes). A CompileError (a message naming the
// line) is the expected answer to bad input; anything else (a crash, another exception, a hang)
// is a finding.
#include <cstdint>
#include <string>

#include "tatami/compiler/ir.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/driver/step.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    tatami::compiler::Graph g = tatami::compiler::parseGraph(std::string(reinterpret_cast<const char*>(data), size), "fuzz.tir");
    tatami::compiler::verify(g);
    // What tatami check does next: the training step (loss, backward, update) and the passes.
    tatami::driver::CompileRequest r;
    r.loss = "mse";
    tatami::compiler::runPipeline(g, tatami::driver::trainingPipeline(r), {}, nullptr);
  } catch (const tatami::compiler::CompileError&) {
  } catch (const tatami::driver::RequestError&) {
  }
  return 0;
}
