// The pass pipeline and the graph-cleaning passes.
#include "tatami/compiler/pipeline.h"

#include <algorithm>
#include <ostream>

#include "tatami/compiler/interpreter.h"

namespace tatami::compiler {

namespace {

/// Rebuilds the graph keeping the listed nodes (in order) and the values they and the outputs use.
void compact(Graph& g, const std::vector<bool>& keepNode) {
  std::vector<bool> used(g.values.size(), false);
  for (int o : g.outputs) used[std::size_t(o)] = true;
  for (int i : g.inputs) used[std::size_t(i)] = true;
  for (int p : g.parameters) used[std::size_t(p)] = true;
  for (std::size_t n = 0; n < g.nodes.size(); ++n)
    if (keepNode[n]) {
      for (int i : g.nodes[n].inputs) used[std::size_t(i)] = true;
      for (int o : g.nodes[n].outputs) used[std::size_t(o)] = true;
    }
  std::vector<int> remap(g.values.size(), -1);
  std::vector<Value> values;
  for (std::size_t v = 0; v < g.values.size(); ++v)
    if (used[v]) remap[v] = int(values.size()), values.push_back(g.values[v]);
  std::vector<Node> nodes;
  for (std::size_t n = 0; n < g.nodes.size(); ++n) {
    if (!keepNode[n]) continue;
    Node node = g.nodes[n];
    for (int& i : node.inputs) i = remap[std::size_t(i)];
    for (int& o : node.outputs) o = remap[std::size_t(o)];
    values[std::size_t(node.outputs[0])].producer = int(nodes.size());
    nodes.push_back(std::move(node));
  }
  const auto fix = [&](std::vector<int>& list) {
    for (int& v : list) v = remap[std::size_t(v)];
  };
  fix(g.inputs), fix(g.parameters), fix(g.outputs);
  g.values = std::move(values);
  g.nodes = std::move(nodes);
}

}  // namespace

void foldConstants(Graph& g) {
  std::vector<bool> keep(g.nodes.size(), true);
  for (std::size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    bool allConst = true;
    for (int i : node.inputs) allConst = allConst && g.values[std::size_t(i)].kind == ValueKind::Constant;
    if (!allConst || elementCount(g.values[std::size_t(node.outputs[0])].shape) > kMaxFoldedElements) continue;
    // Evaluate this one node on a tiny graph of its constant inputs.
    Graph one;
    std::vector<int> ins;
    for (int i : node.inputs) {
      const Value& v = g.values[std::size_t(i)];
      ins.push_back(one.find(v.name) >= 0 ? one.find(v.name) : one.constant(v.name, v.shape, v.data));
    }
    const int out = one.op(node.op, ins, node.attrs, "out");
    const Tensor t = evaluate(one, {})[std::size_t(out)];
    Value& result = g.values[std::size_t(node.outputs[0])];
    result.kind = ValueKind::Constant;
    result.data = t.data;
    result.producer = -1;
    keep[n] = false;
  }
  compact(g, keep);
}

void eliminateDeadCode(Graph& g) {
  std::vector<bool> live(g.values.size(), false), keep(g.nodes.size(), false);
  for (int o : g.outputs) live[std::size_t(o)] = true;
  for (std::size_t n = g.nodes.size(); n-- > 0;) {
    if (!live[std::size_t(g.nodes[n].outputs[0])]) continue;
    keep[n] = true;
    for (int i : g.nodes[n].inputs) live[std::size_t(i)] = true;
  }
  compact(g, keep);
}

const std::vector<PassInfo>& standardPasses() {
  static const std::vector<PassInfo> passes = {
      {"fold-constants", "evaluate nodes whose inputs are all constants", foldConstants},
      {"dce", "remove nodes that no output depends on", eliminateDeadCode},
      {"verify", "check every node's inputs and shapes", [](Graph& g) { verify(g); }},
  };
  return passes;
}

void runPipeline(Graph& g, const std::vector<PassInfo>& passes, const std::vector<std::string>& printAfter, std::ostream* out) {
  for (const PassInfo& p : passes) {
    try {
      p.run(g);
      verify(g);
    } catch (const CompileError& e) {
      throw CompileError("pass '" + p.name + "': " + e.what());
    }
    const bool print = std::find(printAfter.begin(), printAfter.end(), p.name) != printAfter.end() ||
                       std::find(printAfter.begin(), printAfter.end(), "all") != printAfter.end();
    if (print && out) *out << "# IR after " << p.name << "\n" << printGraph(g) << "\n";
  }
}

}  // namespace tatami::compiler
