// The ONNX front end: reads a model as PyTorch exports it (opsets 11 to 17) into the IR.
// Initializers become parameters; the shape arithmetic around ops is folded at compile time.
#pragma once

#include <string>

#include "tatami/compiler/ir.h"

namespace tatami::compiler {

/// The default-domain opsets the front end reads (where ops differ between them, by each one's rules).
constexpr std::int64_t kMinOpset = 11, kMaxOpset = 17;

struct ImportOptions {
  std::int64_t batch = 0;  ///< the size of symbolic (or zero) input dimensions; 0: refuse them
  /// A data-parallel core's share of the batch starts at this example: a training-mode Dropout's
  /// mask is then the whole batch's rows from here (its constants are named "dropout_mask...").
  std::int64_t firstExample = 0;
};

/// Reads an .onnx file. Throws CompileError naming the file, the node and the op for anything
/// malformed or unsupported.
Graph importOnnx(const std::string& path, const ImportOptions& options = {});
/// The same from the serialized bytes of a ModelProto (`origin` names it in errors).
Graph importOnnxBytes(const std::string& bytes, const std::string& origin, const ImportOptions& options = {});

}  // namespace tatami::compiler
