// libFuzzer target: the text IR reader, the verifier, and the training step built on what they
// accept (autodiff, the optimizer, the graph passes). A CompileError (a message naming the line)
// is the expected answer to bad input; anything else (a crash, another exception, a hang) is a
// finding.
#include <cstdint>
#include <string>

#include "training_step.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tatami::compiler::Graph g;
  try {
    g = tatami::compiler::parseGraph(std::string(reinterpret_cast<const char*>(data), size), "fuzz.tir");
    tatami::compiler::verify(g);
  } catch (const tatami::compiler::CompileError&) {
    return 0;
  }
  fuzzTrainingStep(g);
  return 0;
}
