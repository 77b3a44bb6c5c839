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
std::int64_t elementCount(const Shape& s);
std::string shapeText(const Shape& s);

enum class ValueKind : std::uint8_t { Input, Parameter, Constant, Intermediate };

struct Value {
  std::string name;
  Shape shape;
  ValueKind kind = ValueKind::Intermediate;
  std::vector<double> data;  ///< constants, and the initial values of parameters
  int producer = -1;         ///< node index, for intermediates
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
