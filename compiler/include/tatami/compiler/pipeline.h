// Passes over the IR, each a function from graph to graph with a name; a pipeline is a list of
// names, with the verifier between passes and the IR printable after any of them.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "tatami/compiler/ir.h"

namespace tatami::compiler {

using Pass = std::function<void(Graph&)>;

struct PassInfo {
  std::string name;
  std::string description;
  Pass run;
};

/// The passes that need no options: fold-constants, dce, verify.
const std::vector<PassInfo>& standardPasses();

/// Runs the named passes in order, verifying after each; prints the IR after those in
/// `printAfter` ("all" for every pass) to `out`. Throws CompileError naming the pass.
void runPipeline(Graph& g, const std::vector<PassInfo>& passes, const std::vector<std::string>& printAfter, std::ostream* out);

/// Evaluates nodes whose inputs are all constants into constants.
void foldConstants(Graph& g);
/// Removes nodes and values that no output depends on.
void eliminateDeadCode(Graph& g);
/// Rewrites convolution and max pooling (and their gradients) as window gathers (`take` with
/// index tables), matmul and elementwise ops, which a core runs; the values stay the same.
/// Also: matmuls of rank > 2 become 2D matmuls (one per batch entry, or one over the flattened
/// rows when the right operand is 2D), transposes of rank > 2 a `take`. What `keep` names stays
/// as it is: the lowering runs it natively.
struct KeepNative {
  bool implicitGemm = false;   ///< convolutions the matrix unit runs as implicit GEMM (convAsImplicitGemm)
  bool vectorPooling = false;  ///< pooling by vector operations (poolAsVectors)
};
void decomposeSpatial(Graph& g, KeepNative keep = {});
/// Whether node `n` is a convolution or one of its gradients that the lowering runs on the
/// matrix unit as implicit GEMM in mixed precision (lower_conv.cpp): a stride equal along both
/// axes, and for the input gradient dy's padding not negative.
bool convAsImplicitGemm(const Graph& g, const Node& n);
/// Whether node `n` is max or average pooling (or a gradient) whose windows tile the input
/// (stride = kernel, no padding), which the lowering runs by vector operations (lower_pool.cpp).
bool poolAsVectors(const Graph& g, const Node& n);
/// Whether decomposeSpatial has anything to rewrite in `g`.
bool needsDecomposition(const Graph& g);

}  // namespace tatami::compiler
