// Data parallelism inside the model: statistics over the examples (batch normalization in
// training) computed over the whole batch of a slice, not over each core's share.
#include <algorithm>
#include <functional>

#include "tatami/compiler/training.h"

namespace tatami::compiler {

namespace {

/// Reorders g.nodes so that every node follows the producers of its inputs, keeping the given
/// order otherwise (a node moves only as far forward as a producer placed after it requires).
void sortTopologically(Graph& g) {
  std::vector<int> order;
  std::vector<char> state(g.nodes.size(), 0);  // 0 new, 1 on the path, 2 placed
  const std::function<void(int)> place = [&](int n) {
    if (state[std::size_t(n)] == 2) return;
    if (state[std::size_t(n)] == 1) throw CompileError("internal: node '" + g.nodes[std::size_t(n)].name + "' depends on itself");
    state[std::size_t(n)] = 1;
    for (int in : g.nodes[std::size_t(n)].inputs)
      if (const int p = g.values[std::size_t(in)].producer; p >= 0) place(p);
    state[std::size_t(n)] = 2;
    order.push_back(n);
  };
  for (std::size_t n = 0; n < g.nodes.size(); ++n) place(int(n));
  std::vector<Node> nodes;
  for (int n : order) {
    g.values[std::size_t(g.nodes[std::size_t(n)].outputs[0])].producer = int(nodes.size());
    nodes.push_back(std::move(g.nodes[std::size_t(n)]));
  }
  g.nodes = std::move(nodes);
}

bool reducesAxisZero(const Graph& g, const Node& n) {
  if (n.op != Op::reduce_mean && n.op != Op::reduce_sum && n.op != Op::reduce_max) return false;
  const std::int64_t rank = std::int64_t(g.values[std::size_t(n.inputs[0])].shape.size());
  const auto axes = n.intsAttr("axes");
  return std::any_of(axes.begin(), axes.end(), [&](std::int64_t a) { return a == 0 || a == -rank; });
}

}  // namespace

void syncBatchStatistics(Graph& g, const std::set<std::string>& exampleRows, std::int64_t cores, double weight) {
  const std::size_t original = g.nodes.size();
  std::vector<std::pair<int, int>> replaced;  // (local statistic, synced statistic)
  for (std::size_t i = 0; i < original; ++i) {
    const Node n = g.nodes[i];
    if (!reducesAxisZero(g, n) || exampleRows.count(g.values[std::size_t(n.inputs[0])].name) == 0) continue;
    if (n.op == Op::reduce_max)
      throw CompileError("node '" + n.name + "' takes a maximum over the examples of the batch: on a data-parallel slice there is no "
                         "collective for it; run it on one core or on a grid (--grid)");
    const int local = n.outputs[0];
    const std::string name = g.values[std::size_t(local)].name;
    // The batch's mean is the cores' means weighted by their shares; its sum is the cores' sums'.
    int share = local;
    // Names are taken before the scalars of the same call: argument order is the compiler's choice.
    if (n.op == Op::reduce_mean && weight != 1.0) {
      const std::string shareName = g.freshName(name + ".share");
      share = g.op(Op::mul, {local, g.scalar(weight)}, {}, shareName);
    }
    int synced = g.op(Op::allreduce_mean, {share}, {}, g.freshName(name + ".batch"));
    if (n.op == Op::reduce_sum) {
      const std::string sumName = g.freshName(name + ".batch_sum");
      synced = g.op(Op::mul, {synced, g.scalar(double(cores))}, {}, sumName);
    }
    replaced.push_back({local, synced});
  }
  if (replaced.empty()) return;
  for (const auto& [local, synced] : replaced) {
    for (std::size_t i = 0; i < original; ++i)  // the nodes appended since are the syncs' own
      std::replace(g.nodes[i].inputs.begin(), g.nodes[i].inputs.end(), local, synced);
    std::replace(g.outputs.begin(), g.outputs.end(), local, synced);
  }
  sortTopologically(g);
}

}  // namespace tatami::compiler
