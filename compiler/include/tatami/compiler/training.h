// Training: reverse-mode automatic differentiation on the IR, losses, and optimizer updates, all
// emitted as ordinary IR nodes (so a training step is one graph: forward, backward, update).
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tatami/compiler/ir.h"

namespace tatami::compiler {

/// Adds nodes computing d(loss)/d(v) for each v in `wrt`; `loss` must be a scalar (shape []).
/// Returns the gradient value of each (a zero constant if the loss does not depend on it).
std::map<int, int> addBackward(Graph& g, int loss, const std::vector<int>& wrt);

/// Softmax cross-entropy of logits [batch, classes] against one-hot targets of the same shape,
/// averaged over the batch: a scalar.
int addSoftmaxCrossEntropy(Graph& g, int logits, int onehot);
/// The input "target" (Role::Target), shaped like `prediction`.
int addTarget(Graph& g, int prediction);
/// Mean squared error over all elements: a scalar.
int addMeanSquaredError(Graph& g, int prediction, int target);

struct OptimizerConfig {
  std::string kind = "sgd";  ///< sgd or adamw
  double learningRate = 0.01;
  double momentum = 0.0;      ///< sgd
  double weightDecay = 0.0;   ///< sgd: L2 added to the gradient; adamw: decoupled
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  ///< adamw
  std::int64_t step = 1;      ///< adamw bias correction uses this step number
};

/// A whole training step: loss, backward over every parameter, and the update. The loss is an
/// output with Role::Loss; optimizer state comes in as inputs with Role::OptimizerState of their
/// parameter (named "<param>.m" / "<param>.v" for reading); every updated parameter and state is
/// an output with Role::Update of what it replaces (named "<param>.next", "<param>.m.next").
/// Returns the loss value.
/// `combine`, if given, is applied to every gradient and to the loss before they are used (data
/// parallelism passes an all-reduce here); small gradients in buckets (flattened, joined, combined
/// at once and cut apart) unless `buckets` is false (each then combined alone, in its own shape:
/// what a tensor-parallel grid needs, whose gradients are blocks laid out differently).
int addTrainingStep(Graph& g, int loss, const OptimizerConfig& optimizer,
                    const std::function<int(Graph&, int)>& combine = {}, bool buckets = true);

/// The same buckets made after the fact: each run of consecutive `allreduce_mean` nodes (none
/// reading another's result) has its operands of up to 64 KiB flattened, joined, averaged at once
/// and cut apart again, in buckets of up to 64 KiB; each former all-reduce's result, now a
/// reshape of its part, keeps its value and name. What a grid's copies on several dies need:
/// their gradients are blocks that only the local graph gives.
void bucketAllreduces(Graph& g);

/// The `training-step` pass: the model's first output becomes the prediction; a target input,
/// the loss (`xent`: softmax cross-entropy, `mse`), the backward graph and the optimizer update
/// replace the outputs. `dataParallel`: the gradients and the loss are averaged over the cores of
/// a data-parallel slice (`allreduce_mean`) before they are used; `weight` (this core's examples
/// x cores / batch, 1 for an even split) scales this core's loss first, so that the average over
/// the cores is the batch's mean when the shares differ; `buckets` as addTrainingStep's. Throws
/// CompileError.
void buildTrainingStep(Graph& g, const std::string& loss, const OptimizerConfig& optimizer, bool dataParallel, double weight = 1.0,
                       bool buckets = true);

/// Data parallelism with statistics over the examples (batch normalization in training mode):
/// every reduce_mean or reduce_sum over axis 0 of a value whose rows are the examples (named in
/// `exampleRows`) becomes the whole batch's: the core's own statistic, weighted by its share
/// (`weight`, as above) and averaged over the `cores` of the slice (`allreduce_mean`, times the
/// cores for a sum). The gradient of an average over the cores is the average of the gradients,
/// so the backward pass is synchronized as well. Throws CompileError for a maximum over examples.
void syncBatchStatistics(Graph& g, const std::set<std::string>& exampleRows, std::int64_t cores, double weight);

}  // namespace tatami::compiler
