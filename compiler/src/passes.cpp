// The passes by name: fold-constants, training-step, dce, decompose-spatial, local-graph, verify.
#include "tatami/compiler/passes.h"

#include <algorithm>
#include <sstream>

#include "tatami/compiler/partition.h"
#include "tatami/compiler/training.h"

namespace tatami::compiler {

namespace {

/// Reads the options a pass knows; anything else is refused by name.
class OptionReader {
 public:
  OptionReader(const std::string& pass, const PassOptions& o) : pass_(pass), o_(o) {}
  std::string text(const std::string& key, const std::string& fallback) {
    used_.push_back(key);
    const auto it = o_.find(key);
    return it == o_.end() ? fallback : it->second;
  }
  double number(const std::string& key, double fallback) {
    const std::string t = text(key, "");
    if (t.empty()) return fallback;
    try {
      std::size_t end = 0;
      const double v = std::stod(t, &end);
      if (end != t.size()) throw std::invalid_argument(t);
      return v;
    } catch (const std::exception&) {
      throw CompileError("pass '" + pass_ + "': option " + key + "=" + t + " is not a number");
    }
  }
  void done() const {
    for (const auto& [k, v] : o_)
      if (std::find(used_.begin(), used_.end(), k) == used_.end())
        throw CompileError("pass '" + pass_ + "' has no option '" + k + "'");
  }

 private:
  std::string pass_;
  const PassOptions& o_;
  std::vector<std::string> used_;
};

}  // namespace

const std::vector<PassCatalogEntry>& passCatalog() {
  static const std::vector<PassCatalogEntry> c = {
      {"fold-constants", "evaluate nodes whose inputs are all constants", ""},
      {"training-step", "add the target, the loss, the backward graph and the optimizer update (data parallel: averaged gradients and loss)",
       "loss=xent|mse optimizer=sgd|adamw lr= momentum= weight_decay= parallel=0|1 weight="},
      {"dce", "remove nodes that no output depends on", ""},
      {"local-graph", "the graph one position of a rows x cols grid runs: its blocks, and the collectives where a split is contracted",
       "rows= cols= r= c="},
      {"decompose-spatial", "convolutions, pooling, padding, batched matmuls and N-D transposes as gathers (take) and 2D matmuls", ""},
      {"verify", "check every node's inputs and shapes", ""},
  };
  return c;
}

PassInfo passByName(const std::string& name, const PassOptions& options) {
  OptionReader o(name, options);
  PassInfo p;
  p.name = name;
  for (const auto& e : passCatalog())
    if (e.name == name) p.description = e.description;
  if (name == "fold-constants") {
    p.run = foldConstants;
  } else if (name == "dce") {
    p.run = eliminateDeadCode;
  } else if (name == "verify") {
    p.run = [](Graph& g) { verify(g); };
  } else if (name == "decompose-spatial") {
    p.run = [](Graph& g) { decomposeSpatial(g); };
  } else if (name == "training-step") {
    OptimizerConfig opt;
    const std::string loss = o.text("loss", "xent");
    opt.kind = o.text("optimizer", "sgd");
    opt.learningRate = o.number("lr", opt.learningRate);
    opt.momentum = o.number("momentum", opt.momentum);
    opt.weightDecay = o.number("weight_decay", opt.weightDecay);
    const bool parallel = o.number("parallel", 0) != 0;
    const double weight = o.number("weight", 1.0);
    p.run = [loss, opt, parallel, weight](Graph& g) { buildTrainingStep(g, loss, opt, parallel, weight); };
  } else if (name == "local-graph") {
    const int rows = int(o.number("rows", 2)), cols = int(o.number("cols", 2)), r = int(o.number("r", 0)), c = int(o.number("c", 0));
    if (rows < 1 || cols < 1 || r < 0 || r >= rows || c < 0 || c >= cols)
      throw CompileError("pass 'local-graph': position (" + std::to_string(r) + "," + std::to_string(c) + ") is not on a " +
                         std::to_string(rows) + "x" + std::to_string(cols) + " grid");
    p.run = [rows, cols, r, c](Graph& g) { g = localGraph(g, planGrid(g, rows, cols), r, c); };
  } else {
    std::string known;
    for (const auto& e : passCatalog()) known += (known.empty() ? "" : ", ") + e.name;
    throw CompileError("unknown pass '" + name + "' (" + known + ")");
  }
  o.done();
  return p;
}

PassInfo parsePassSpec(const std::string& spec) {
  std::istringstream in(spec);
  std::string name, item;
  in >> name;
  PassOptions options;
  while (in >> item) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) throw CompileError("pass '" + name + "': option '" + item + "' is not key=value");
    options[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return passByName(name, options);
}

}  // namespace tatami::compiler
