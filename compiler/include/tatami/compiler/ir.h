// The compiler's one graph IR: values (tensors with a static shape) and nodes (ops with
// attributes), in topological order. It has a text form (print/parse), a verifier that infers
// every shape, and a small builder API (the C++ front end). ONNX models are translated into it.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "tatami/compiler/ops.h"

namespace tatami::compiler {

using Shape = std::vector<std::int64_t>;
/// No tensor the machine can hold has this many elements (2^48): a shape that asks for more, or a
/// dimension beyond it, is malformed, refused before any product of sizes can wrap around.
constexpr std::int64_t kMaxElements = std::int64_t(1) << 48;
/// The element count of `s`; throws CompileError for a negative dimension or kMaxElements or more.
std::int64_t elementCount(const Shape& s);
std::string shapeText(const Shape& s);

/// The most elements an op of constant inputs is folded to (by the front end and the graph
/// passes): a bigger result stays an op, computed on the machine, since folding would hold it
/// in the graph (and in the program's .init) element by element.
constexpr std::int64_t kMaxFoldedElements = std::int64_t(1) << 24;

enum class ValueKind : std::uint8_t { Input, Parameter, Constant, Intermediate };

/// What a value is to a training step, set where the value is made (the front end, the loss, the
/// optimizer) and carried by every pass; nothing finds a role from a name.
enum class Role : std::uint8_t {
  None,            ///< an intermediate, a constant, or an output with no training meaning
  Batch,           ///< an input fed with each batch (the default of an input)
  Target,          ///< an input: the batch's targets (one-hot classes or regression values)
  Parameter,       ///< a trained weight (the role of every parameter)
  OptimizerState,  ///< an input: optimizer state (momentum, second moment) of parameter `of`
  Update,          ///< an output: the next value of `of` (a parameter or an optimizer state)
  Loss,            ///< an output: the step's loss
  Metric,          ///< an output: a figure reported beside the loss
};
const char* roleName(Role r);
/// The role called `name` (as roleName gives it); throws CompileError when there is none.
Role roleFromName(const std::string& name);

struct Value {
  std::string name;
  Shape shape;
  ValueKind kind = ValueKind::Intermediate;
  std::vector<double> data;  ///< constants, and the initial values of parameters
  int producer = -1;         ///< node index, for intermediates
  Role role = Role::None;
  std::string of;  ///< OptimizerState and Update: the name of the value they belong to
};

using Attribute = std::variant<std::int64_t, double, std::string, std::vector<std::int64_t>>;

struct Node {
  Op op = Op::identity;
  std::string name;
  std::vector<int> inputs, outputs;
  std::map<std::string, Attribute> attrs;
  std::int64_t intAttr(const std::string& key, std::int64_t fallback) const;
  double realAttr(const std::string& key, double fallback) const;
  std::vector<std::int64_t> intsAttr(const std::string& key) const;
};

/// A malformed graph or an unsupported construct: the message names the node and the problem.
class CompileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The step does not fit a core's SRAM (the message names the tensor and the bytes short): a
/// caller may place it otherwise (more cores, weights streamed from HBM).
class SramOverflow : public CompileError {
 public:
  using CompileError::CompileError;
};

class Graph {
 public:
  std::string name = "graph";
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs, parameters, outputs;

  // Builder API.
  int input(const std::string& name, const Shape& shape);
  int parameter(const std::string& name, const Shape& shape, std::vector<double> init);
  int constant(const std::string& name, const Shape& shape, std::vector<double> data);
  int scalar(double v);
  /// Adds a node with one output; its shape is inferred.
  int op(Op op, const std::vector<int>& inputs, std::map<std::string, Attribute> attrs = {},
         const std::string& name = "");
  void markOutput(int value);
  /// Marks an output with its role (Loss, Update of `of`, Metric).
  void markOutput(int value, Role role, const std::string& of = "");
  /// Sets a value's role (and what it belongs to).
  void setRole(int value, Role role, const std::string& of = "");
  /// The values with a role, in value order.
  std::vector<int> withRole(Role role) const;
  /// The value with `role` that belongs to `of` (-1 if none): e.g. the Update of a parameter.
  int findRole(Role role, const std::string& of = "") const;
  int find(const std::string& valueName) const;  ///< -1 if none
  std::string freshName(const std::string& stem);

 private:
  int addValue(Value v);
  int counter_ = 0;
};

/// Infers the output shape of a node from its inputs (throws CompileError naming the node).
Shape inferShape(const Graph& g, const Node& n);
/// Checks the graph: every input defined before use, shapes consistent, ops known.
void verify(const Graph& g);

/// Text form: one value or node per line (see docs/compiler.md).
std::string printGraph(const Graph& g, bool withData = false);
Graph parseGraph(const std::string& text, const std::string& origin);

}  // namespace tatami::compiler
