// libFuzzer target: the text IR reader and the verifier. A CompileError (a message naming the
// line) is the expected answer to bad input; anything else (a crash, another exception, a hang)
// is a finding.
#include <cstdint>
#include <string>

#include "tatami/compiler/ir.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tatami::compiler::Graph g = tatami::compiler::parseGraph(std::string(reinterpret_cast<const char*>(data), size), "fuzz.tir");
    tatami::compiler::verify(g);
  } catch (const tatami::compiler::CompileError&) {
  }
  return 0;
}
