// Losses and optimizer updates, as IR.
#include <algorithm>
#include <cmath>
#include <set>

#include "tatami/compiler/training.h"

namespace tatami::compiler {

int addTarget(Graph& g, int prediction) {
  const int t = g.input("target", g.values[std::size_t(prediction)].shape);
  g.setRole(t, Role::Target);
  return t;
}

int addSoftmaxCrossEntropy(Graph& g, int logits, int onehot) {
  const Shape s = g.values[std::size_t(logits)].shape;
  if (s.size() != 2) throw CompileError("softmax cross-entropy needs logits of shape [batch, classes], got " + shapeText(s));
  if (g.values[std::size_t(onehot)].shape != s)
    throw CompileError("softmax cross-entropy: targets " + shapeText(g.values[std::size_t(onehot)].shape) +
                       " do not match logits " + shapeText(s));
  const int ls = g.op(Op::log_softmax, {logits}, {{"axis", std::int64_t(1)}});
  const int total = g.op(Op::reduce_sum, {g.op(Op::mul, {onehot, ls})}, {{"axes", std::vector<std::int64_t>{0, 1}}, {"keepdims", std::int64_t(0)}});
  // Every name is taken before the ops that the call's other arguments make: the order in which a
  // compiler evaluates arguments is unspecified, and names must not depend on the compiler.
  const std::string name = g.freshName("loss");
  return g.op(Op::neg, {g.op(Op::div, {total, g.scalar(double(s[0]))})}, {}, name);
}

int addMeanSquaredError(Graph& g, int prediction, int target) {
  const Shape s = g.values[std::size_t(prediction)].shape;
  const int d = g.op(Op::sub, {prediction, target});
  std::vector<std::int64_t> axes(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) axes[i] = std::int64_t(i);
  const std::string name = g.freshName("loss");  // before the ops in the arguments (see above)
  return g.op(Op::reduce_mean, {g.op(Op::mul, {d, d})}, {{"axes", axes}, {"keepdims", std::int64_t(0)}}, name);
}

namespace {

/// Gradients of at most this many bytes share their data-parallel all-reduce with others (see
/// combineInBuckets).
constexpr std::int64_t kBucketBytes = 64 * 1024;

/// Each parameter's gradient combined over the replicas (`combine`: an all-reduce). Every
/// all-reduce pays its ring steps' DMA setups and round trips whatever its size, and a model's
/// many small gradients (biases, norms, attention projections) would each pay them: gradients of
/// up to kBucketBytes are flattened and joined into buckets of up to kBucketBytes, in the order
/// the backward pass makes them (the last layer's first), each bucket combined at once and cut
/// apart again; larger ones are combined alone.
std::map<int, int> combineInBuckets(Graph& g, const std::vector<int>& params, const std::map<int, int>& grads,
                                    const std::function<int(Graph&, int)>& combine) {
  std::map<int, int> combined;
  std::vector<int> bucket;
  std::int64_t bucketBytes = 0;
  const auto flush = [&] {
    if (bucket.size() == 1) combined[bucket[0]] = combine(g, grads.at(bucket[0]));
    if (bucket.size() > 1) {
      std::vector<int> flat;
      for (int p : bucket) {
        const std::int64_t n = elementCount(g.values[std::size_t(p)].shape);
        flat.push_back(g.op(Op::reshape, {grads.at(p)}, {{"shape", std::vector<std::int64_t>{n}}}));
      }
      const int joined = g.op(Op::concat, flat, {{"axis", std::int64_t(0)}});
      const int mean = combine(g, joined);
      std::int64_t at = 0;
      for (int p : bucket) {
        const Shape shape = g.values[std::size_t(p)].shape;
        const std::int64_t n = elementCount(shape);
        const int part = g.op(Op::slice, {mean}, {{"starts", std::vector<std::int64_t>{at}}, {"ends", std::vector<std::int64_t>{at + n}}});
        combined[p] = g.op(Op::reshape, {part}, {{"shape", std::vector<std::int64_t>(shape.begin(), shape.end())}});
        at += n;
      }
    }
    bucket.clear();
    bucketBytes = 0;
  };
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const std::int64_t bytes = elementCount(g.values[std::size_t(*it)].shape) * 4;
    if (bytes > kBucketBytes) {
      combined[*it] = combine(g, grads.at(*it));
      continue;
    }
    if (bucketBytes + bytes > kBucketBytes) flush();
    bucket.push_back(*it);
    bucketBytes += bytes;
  }
  flush();
  return combined;
}

}  // namespace

void bucketAllreduces(Graph& g) {
  std::vector<Node> old = std::move(g.nodes);
  g.nodes.clear();
  const auto bytesOf = [&](int v) { return elementCount(g.values[std::size_t(v)].shape) * 4; };
  for (std::size_t i = 0; i < old.size();) {
    // A run of consecutive all-reduces, none reading another's result.
    std::size_t end = i;
    std::set<int> made;
    while (end < old.size() && old[end].op == Op::allreduce_mean && !made.count(old[end].inputs[0])) made.insert(old[end++].outputs[0]);
    if (end - i < 2) {
      for (const std::size_t stop = std::max(end, i + 1); i < stop; ++i) g.nodes.push_back(std::move(old[i]));
      continue;
    }
    std::vector<Node*> bucket;
    std::int64_t bucketBytes = 0;
    const auto flush = [&] {
      if (bucket.size() == 1) g.nodes.push_back(std::move(*bucket[0]));
      if (bucket.size() > 1) {
        std::vector<int> flat;
        for (Node* n : bucket) flat.push_back(g.op(Op::reshape, {n->inputs[0]}, {{"shape", std::vector<std::int64_t>{bytesOf(n->inputs[0]) / 4}}}));
        const int mean = g.op(Op::allreduce_mean, {g.op(Op::concat, flat, {{"axis", std::int64_t(0)}})});
        std::int64_t at = 0;
        for (Node* n : bucket) {
          const std::int64_t count = bytesOf(n->inputs[0]) / 4;
          const int part = g.op(Op::slice, {mean}, {{"starts", std::vector<std::int64_t>{at}}, {"ends", std::vector<std::int64_t>{at + count}}});
          const Shape& shape = g.values[std::size_t(n->outputs[0])].shape;
          // The all-reduce's node becomes the reshape back: its result keeps its value and name.
          n->op = Op::reshape, n->inputs = {part}, n->attrs = {{"shape", std::vector<std::int64_t>(shape.begin(), shape.end())}};
          g.nodes.push_back(std::move(*n));
          at += count;
        }
      }
      bucket.clear(), bucketBytes = 0;
    };
    for (; i < end; ++i) {
      const std::int64_t bytes = bytesOf(old[i].inputs[0]);
      if (bytes > kBucketBytes) {
        g.nodes.push_back(std::move(old[i]));
        continue;
      }
      if (bucketBytes + bytes > kBucketBytes) flush();
      bucket.push_back(&old[i]), bucketBytes += bytes;
    }
    flush();
  }
  for (std::size_t k = 0; k < g.nodes.size(); ++k)
    for (int v : g.nodes[k].outputs) g.values[std::size_t(v)].producer = int(k);
}

int addTrainingStep(Graph& g, int loss, const OptimizerConfig& o, const std::function<int(Graph&, int)>& combine, bool buckets) {
  if (o.kind != "sgd" && o.kind != "adamw") throw CompileError("unknown optimizer '" + o.kind + "' (sgd, adamw)");
  const std::vector<int> params = g.parameters;
  const std::map<int, int> grads = addBackward(g, loss, params);
  g.markOutput(combine ? combine(g, loss) : loss, Role::Loss);
  std::map<int, int> combined = grads;
  if (combine && buckets) combined = combineInBuckets(g, params, grads, combine);
  else if (combine)
    for (auto& [p, grad] : combined) grad = combine(g, grad);
  for (int p : params) {
    const std::string name = g.values[std::size_t(p)].name;
    const Shape shape = g.values[std::size_t(p)].shape;
    int grad = combined.at(p);
    int next;
    if (o.kind == "sgd") {
      if (o.weightDecay != 0) grad = g.op(Op::add, {grad, g.op(Op::mul, {g.scalar(o.weightDecay), p})});
      int step = grad;
      if (o.momentum != 0) {
        const int m = g.input(name + ".m", shape);
        g.setRole(m, Role::OptimizerState, name);
        step = g.op(Op::add, {g.op(Op::mul, {g.scalar(o.momentum), m}), grad}, {}, name + ".m.next");
        g.markOutput(step, Role::Update, name + ".m");
      }
      next = g.op(Op::sub, {p, g.op(Op::mul, {g.scalar(o.learningRate), step})}, {}, name + ".next");
    } else {
      const int m = g.input(name + ".m", shape), v = g.input(name + ".v", shape);
      g.setRole(m, Role::OptimizerState, name);
      g.setRole(v, Role::OptimizerState, name);
      const int mNext = g.op(Op::add, {g.op(Op::mul, {g.scalar(o.beta1), m}), g.op(Op::mul, {g.scalar(1 - o.beta1), grad})}, {}, name + ".m.next");
      const int vNext = g.op(Op::add, {g.op(Op::mul, {g.scalar(o.beta2), v}), g.op(Op::mul, {g.scalar(1 - o.beta2), g.op(Op::mul, {grad, grad})})},
                             {}, name + ".v.next");
      const double c1 = 1.0 - std::pow(o.beta1, double(o.step)), c2 = 1.0 - std::pow(o.beta2, double(o.step));
      const int mHat = g.op(Op::div, {mNext, g.scalar(c1)});
      const int vHat = g.op(Op::div, {vNext, g.scalar(c2)});
      const int adam = g.op(Op::div, {mHat, g.op(Op::add, {g.op(Op::sqrt, {vHat}), g.scalar(o.epsilon)})});
      const int upd = o.weightDecay != 0 ? g.op(Op::add, {adam, g.op(Op::mul, {g.scalar(o.weightDecay), p})}) : adam;
      next = g.op(Op::sub, {p, g.op(Op::mul, {g.scalar(o.learningRate), upd})}, {}, name + ".next");
      g.markOutput(mNext, Role::Update, name + ".m");
      g.markOutput(vNext, Role::Update, name + ".v");
    }
    g.markOutput(next, Role::Update, name);
  }
  return loss;
}

void buildTrainingStep(Graph& g, const std::string& loss, const OptimizerConfig& optimizer, bool dataParallel, double weight, bool buckets) {
  if (loss != "xent" && loss != "mse") throw CompileError("unknown loss '" + loss + "' (xent, mse)");
  if (g.outputs.empty()) throw CompileError("the model has no output to train");
  const int y = g.outputs.front();
  const int target = addTarget(g, y);
  g.outputs.clear();
  int l = loss == "xent" ? addSoftmaxCrossEntropy(g, y, target) : addMeanSquaredError(g, y, target);
  if (weight != 1.0) {
    const std::string name = g.freshName("loss_share");  // before the scalar: a fixed order
    l = g.op(Op::mul, {l, g.scalar(weight)}, {}, name);
  }
  std::function<int(Graph&, int)> combine;
  if (dataParallel) combine = [](Graph& gg, int v) { return gg.op(Op::allreduce_mean, {v}); };
  addTrainingStep(g, l, optimizer, combine, buckets);
}

}  // namespace tatami::compiler
