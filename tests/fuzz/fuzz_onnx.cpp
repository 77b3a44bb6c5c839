// libFuzzer target: ONNX model bytes imported by the front end and the training pipeline's
// graph checked. A CompileError naming the problem is the expected answer to bad input;
// anything else (a crash, a hang, another exception) is a finding.
#include <cstdint>
#include <string>

#include "tatami/compiler/ir.h"
#include "tatami/compiler/onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    tatami::compiler::ImportOptions options;
    options.batch = 4;
    tatami::compiler::importOnnxBytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx", options);
  } catch (const tatami::compiler::CompileError&) {
  }
  return 0;
}
