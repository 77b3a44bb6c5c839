// The training loop: data order, batches by purpose, steps in a runtime session, the host oracle,
// evaluation, checkpoints.
#include "tatami/driver/trainer.h"

#include "tatami/arch/figures.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tatami/arch/philox.h"
#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/onnx_import.h"

namespace tatami::driver {

using namespace tatami::compiler;

namespace {

/// A seeded shuffle of 0..n-1 for one epoch (Fisher-Yates with Philox draws).
std::vector<std::uint32_t> shuffled(std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
  std::vector<std::uint32_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = std::uint32_t(i);
  for (std::size_t i = n; i-- > 1;) {
    const std::uint64_t r = (std::uint64_t(roundingBits(seed, epoch, 2 * i)) << 32) | roundingBits(seed, epoch, 2 * i + 1);
    std::swap(order[i], order[std::size_t(r % (i + 1))]);
  }
  return order;
}

runtime::LabelledImages load(const std::string& data, const std::string& split) {
  try {
    return runtime::loadImageDataset(data, split);
  } catch (const std::runtime_error& e) {
    throw DataError(e.what());
  }
}

std::vector<std::uint64_t> dims(const std::vector<std::int64_t>& shape) { return {shape.begin(), shape.end()}; }

}  // namespace

/// The host's FP64 copy of the training step, on its own weights, fed the same batches.
struct Trainer::Oracle {
  const Graph& step;
  std::map<std::string, std::vector<double>> state;
  double lossSum = 0;

  double run(const std::vector<runtime::NamedArray>& batch) {
    std::map<std::string, Tensor> feeds;
    for (const auto& a : batch) feeds[a.name] = Tensor{step.values[std::size_t(step.find(a.name))].shape, a.data};
    for (const auto& [name, w] : state) feeds[name] = Tensor{step.values[std::size_t(step.find(name))].shape, w};
    const auto res = compiler::evaluate(step, feeds);
    for (auto& [name, w] : state) {
      const int v = step.findRole(Role::Update, name);
      if (v >= 0) w = res[std::size_t(v)].data;
    }
    const double loss = res[std::size_t(step.findRole(Role::Loss))].data.at(0);
    lossSum += loss;
    return loss;
  }
};

Trainer::Trainer(TrainRequest request, const ArchConfig& config) : r_(std::move(request)), config_(config) {
  if (r_.step.loss != "xent" && r_.step.loss != "mse") throw RequestError("--loss '" + r_.step.loss + "': expected xent or mse");
  if (r_.timingOnly && r_.oracle) throw RequestError("--timing-only trains nothing: it does not combine with --oracle");
  if (r_.evalOn != "machine" && r_.evalOn != "host") throw RequestError("--eval-on '" + r_.evalOn + "': expected machine or host");
  if (r_.step.batch <= 0) throw RequestError("--batch " + std::to_string(r_.step.batch) + ": expected a positive number of examples");
  train_ = load(r_.data, "train");
  test_ = load(r_.evalData.empty() ? r_.data : r_.evalData, "t10k");
  if (test_.pixels != train_.pixels)
    throw DataError("the evaluation set has " + std::to_string(test_.pixels) + " values per example, the training set " +
                    std::to_string(train_.pixels));
  if (train_.count == 0 || test_.count == 0)
    throw DataError("'" + r_.data + "' has an empty " + (train_.count == 0 ? "training" : "test") + " split");
  if (r_.epochs < 0 || r_.steps < 0) throw RequestError("--epochs and --steps must not be negative");
  stepsPerEpoch_ = std::int64_t(train_.count) / r_.step.batch;
  if (stepsPerEpoch_ == 0)
    throw RequestError("--batch " + std::to_string(r_.step.batch) + " is larger than the training set's " + std::to_string(train_.count) +
                       " examples");
  totalSteps_ = r_.steps > 0 ? r_.steps : stepsPerEpoch_ * r_.epochs;
  // The test split is evaluated on the host in batches of the largest divisor of its size up to 500.
  evalBatch_ = std::min<std::size_t>(500, test_.count);
  while (evalBatch_ > 1 && test_.count % evalBatch_) --evalBatch_;

  job_ = compileJob(r_.step, config_);
  const Graph& g = job_.step;
  const auto batchInputs = std::count_if(g.inputs.begin(), g.inputs.end(), [&](int v) { return g.values[std::size_t(v)].role == Role::Batch; });
  const int x = g.findRole(Role::Batch), target = g.findRole(Role::Target);
  if (batchInputs != 1 || target < 0) throw CompileError(r_.step.model + ": expected one input (the examples) and class logits as the first output");
  classes_ = g.values[std::size_t(target)].shape.at(1);
  // A row of the target per label: one per example, or one per position of a sequence (a
  // language model's logits for every position, [batch x positions, vocabulary]).
  const std::int64_t rows = g.values[std::size_t(target)].shape.at(0);
  for (const auto* split : {&train_, &test_})
    if (rows != r_.step.batch * std::int64_t(split->labelsPerExample))
      throw DataError("'" + (split == &test_ && !r_.evalData.empty() ? r_.evalData : r_.data) + "': the " + (split == &train_ ? "training" : "test") +
                      " split has " + std::to_string(split->labelsPerExample) + " label(s) per example; the model's logits have " +
                      std::to_string(rows) + " rows for a batch of " + std::to_string(r_.step.batch));
  if (elementCount(g.values[std::size_t(x)].shape) != r_.step.batch * std::int64_t(train_.pixels))
    throw CompileError(r_.step.model + ": input '" + g.values[std::size_t(x)].name + "' does not hold " + std::to_string(train_.pixels) +
                       " values per example");
  // Every label must name one of the model's classes (a one-hot row of the target).
  for (const auto* split : {&train_, &test_})
    for (std::size_t i = 0; i < split->labels.size(); ++i)
      if (std::int64_t(split->labels[i]) >= classes_)
        throw DataError("'" + (split == &test_ && !r_.evalData.empty() ? r_.evalData : r_.data) + "': example " +
                        std::to_string(i / split->labelsPerExample) + " of the " + (split == &train_ ? "training" : "test") + " split has label " +
                        std::to_string(split->labels[i]) + "; the model has " + std::to_string(classes_) + " classes (0.." +
                        std::to_string(classes_ - 1) + ")");
  session_ = std::make_unique<runtime::Session>(config_, std::move(job_.bundle));  // the one copy of the programs
  job_.lowered = {};  // per-core op tables and estimates: no use to the loop (a whole tile's are GBs)
  for (int p : g.parameters) {
    const Value& v = g.values[std::size_t(p)];
    std::vector<double> w(v.data.size());
    std::transform(v.data.begin(), v.data.end(), w.begin(), [](double d) { return double(float(d)); });  // FP32 master weights
    session_->setCarried(v.name, w);
    state_.parameters.insert(v.name);
  }
  ImportOptions evalIo;
  evalIo.batch = std::int64_t(evalBatch_);
  forward_ = importOnnx(r_.step.model, evalIo);
  if (r_.oracle) oracle_.reset(new Oracle{g, session_->carried(), 0});
  if (r_.evalOn == "machine" && !r_.timingOnly) {
    // The forward pass alone, at the step's batch, precision and placement.
    CompileRequest inference = r_.step;
    inference.loss = "none";
    inference.slice = job_.slice, inference.grid = job_.grid, inference.replicas = job_.replicas;
    inference.printAfter.clear();
    try {
      evalJob_ = compileJob(inference, config_);
    } catch (const CompileError& e) {
      throw CompileError(std::string("the forward pass for evaluation on the machine: ") + e.what() + " (--eval-on host evaluates on the host)");
    }
    evalSession_ = std::make_unique<runtime::Session>(config_, evalJob_.bundle);
    if (!evalSession_->withPurpose("batch") || evalJob_.step.outputs.empty())
      throw CompileError(r_.step.model + ": the forward pass has no example input or no output to evaluate on the machine (--eval-on host evaluates on the host)");
  }
}

Trainer::~Trainer() = default;

std::string Trainer::runKey() const {
  const CompileRequest& s = r_.step;
  std::ostringstream key;
  key << "model=" << s.model << " data=" << r_.data << " batch=" << s.batch << " slice=" << (s.slice.empty() ? "1x1" : s.slice)
      << (s.grid.empty() ? "" : " grid=" + s.grid) << (s.replicas > 1 ? " replicas=" + std::to_string(s.replicas) : "") << " precision=" << s.precision << " optimizer=" << s.optimizer.kind
      << " lr=" << s.optimizer.learningRate << " momentum=" << s.optimizer.momentum << " weight_decay=" << s.optimizer.weightDecay
      << " seed=" << r_.seed << " config=" << std::hash<std::string>()(toIni(config_));
  return key.str();
}

std::vector<runtime::NamedArray> Trainer::batchAt(std::int64_t step) {
  const std::int64_t epoch = step / stepsPerEpoch_, inEpoch = step % stepsPerEpoch_;
  if (epoch != orderEpoch_) order_ = shuffled(train_.count, r_.seed, std::uint64_t(epoch)), orderEpoch_ = epoch;
  const runtime::BundleTensor* x = session_->withPurpose("batch");
  const runtime::BundleTensor* t = session_->withPurpose("target");
  runtime::NamedArray xs{x->name, dims(x->shape), std::vector<double>(std::size_t(r_.step.batch) * train_.pixels)};
  const std::size_t per = train_.labelsPerExample;
  runtime::NamedArray ts{t->name, dims(t->shape), std::vector<double>(std::size_t(r_.step.batch) * per * std::size_t(classes_), 0.0)};
  for (std::int64_t i = 0; i < r_.step.batch; ++i) {
    const std::uint32_t e = order_[std::size_t(inEpoch * r_.step.batch + i)];
    std::copy_n(train_.images.begin() + long(std::size_t(e) * train_.pixels), train_.pixels, xs.data.begin() + long(std::size_t(i) * train_.pixels));
    for (std::size_t j = 0; j < per; ++j)
      ts.data[(std::size_t(i) * per + j) * std::size_t(classes_) + train_.labels[std::size_t(e) * per + j]] = 1.0;
  }
  return {xs, ts};
}

StepRecord Trainer::runStep(std::int64_t step, bool trace) {
  StepRecord rec;
  rec.step = step, rec.epoch = step / stepsPerEpoch_;
  const std::vector<runtime::NamedArray> batch = nextStep_ == step ? std::move(nextBatch_) : batchAt(step);
  // The step reads the next one's batch from the interface processor while it runs; the run's
  // last step too (the batch a longer run would train on next), so that a step's cycles never
  // depend on how many steps the run has, and a run resumed from a checkpoint written at the end
  // of another finds the host link where an uninterrupted run has it.
  nextBatch_ = batchAt(step + 1);
  nextStep_ = step + 1;
  runtime::RunOptions options;
  options.trace = trace;
  options.timingOnly = r_.timingOnly;
  runtime::Session::Step s = session_->step(batch, options, &nextBatch_);
  rec.loss = s.loss;
  rec.run = std::move(s.result.run);
  if (oracle_ && rec.run.error.empty()) oracle_->run(batch);
  return rec;
}

double Trainer::evaluate(std::int64_t* runs, double* cycles) const {
  if (runs) *runs = 0;
  if (cycles) *cycles = 0;
  return evalSession_ ? evaluateOnMachine(runs, cycles) : evaluateOnHost();
}

std::size_t Trainer::correctRows(const std::vector<double>& logits, std::size_t first, std::size_t examples) const {
  // A row of logits per label (one per example, or one per position of a sequence); the arg max
  // (the first on a tie) against the label.
  const std::size_t per = test_.labelsPerExample, classes = std::size_t(classes_);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < examples * per; ++i) {
    const auto row = logits.begin() + long(i * classes);
    if (std::size_t(std::max_element(row, row + long(classes)) - row) == test_.labels[first * per + i]) ++correct;
  }
  return correct;
}

double Trainer::evaluateOnMachine(std::int64_t* runs, double* cycles) const {
  // Batches of the step's size; the last one padded with zeros, whose predictions are not counted.
  const runtime::BundleTensor* x = evalSession_->withPurpose("batch");
  const std::string logitsName = evalJob_.step.values[std::size_t(evalJob_.step.outputs.front())].name;
  const std::size_t batch = std::size_t(r_.step.batch), per = test_.labelsPerExample;
  // The weights stay on the machine for the whole pass (read from the training session once);
  // each batch comes through the data path as a training batch does: read from HBM by the run
  // before it, the host link's timeline starting afresh with the pass.
  std::map<std::string, std::vector<double>> weights = session_->carried();
  for (const runtime::BundleTensor& t : evalSession_->bundle().tensors)
    if (t.purpose == "parameter" && !weights.count(t.name))
      throw std::runtime_error("evaluation on the machine: the training step carries no parameter '" + t.name + "' (--eval-on host evaluates on the host)");
  for (auto it = weights.begin(); it != weights.end();)  // the optimizer state stays behind
    it = evalSession_->bundle().find(it->first) ? std::next(it) : weights.erase(it);
  evalSession_->restartBatches();
  evalSession_->setCarried(weights);
  const auto batchAt = [&](std::size_t start) {
    std::vector<runtime::NamedArray> feeds;
    feeds.push_back({x->name, dims(x->shape), std::vector<double>(batch * test_.pixels, 0.0)});
    const std::size_t n = std::min(batch, test_.count - start);
    std::copy_n(test_.images.begin() + long(start * test_.pixels), n * test_.pixels, feeds[0].data.begin());
    return feeds;
  };
  std::size_t correct = 0;
  std::vector<runtime::NamedArray> feeds = batchAt(0);
  for (std::size_t start = 0; start < test_.count; start += batch) {
    const std::size_t n = std::min(batch, test_.count - start);
    const bool last = start + batch >= test_.count;
    const std::vector<runtime::NamedArray> next = last ? std::vector<runtime::NamedArray>{} : batchAt(start + batch);
    const runtime::BundleRun run = evalSession_->step(feeds, {}, last ? nullptr : &next).result;
    if (!run.run.error.empty())
      throw std::runtime_error("evaluation on the machine, test examples " + std::to_string(start) + ".." + std::to_string(start + n - 1) +
                               ": " + run.run.error);
    if (runs) ++*runs;
    if (cycles) *cycles += double(run.run.stats.cycles);
    const auto out = std::find_if(run.outputs.begin(), run.outputs.end(), [&](const runtime::NamedArray& a) { return a.name == logitsName; });
    if (out == run.outputs.end()) throw std::runtime_error("evaluation on the machine: the run has no output '" + logitsName + "'");
    correct += correctRows(out->data, start, n);
    feeds = next;
  }
  return double(correct) / double(test_.count * per);
}

double Trainer::evaluateOnHost() const {
  std::size_t correct = 0;
  const Value& in = forward_.values[std::size_t(forward_.inputs.front())];
  EvalOptions fp32;
  fp32.roundToFloat = true;
  const std::map<std::string, std::vector<double>> carried = session_->carried();  // the weights, read once
  for (std::size_t start = 0; start + evalBatch_ <= test_.count; start += evalBatch_) {
    std::map<std::string, Tensor> feeds;
    feeds[in.name] = Tensor{in.shape, std::vector<double>(test_.images.begin() + long(start * test_.pixels),
                                                          test_.images.begin() + long((start + evalBatch_) * test_.pixels))};
    for (int p : forward_.parameters) {
      const Value& v = forward_.values[std::size_t(p)];
      feeds[v.name] = Tensor{v.shape, carried.at(v.name)};
    }
    const auto r = compiler::evaluate(forward_, feeds, fp32);
    const auto& logits = r[std::size_t(forward_.outputs.front())].data;
    correct += correctRows(logits, start, evalBatch_);
  }
  return double(correct) / double(test_.count * test_.labelsPerExample);
}

runtime::Breakdown Trainer::runBreakdown(const runtime::RunResult* last) const {
  constexpr std::size_t columns = runtime::kBreakdownColumns;
  runtime::Breakdown b;
  b.all.die = "all";
  const std::size_t dies = state_.breakdownDies.size();
  for (std::size_t d = 0; d < dies; ++d) {
    runtime::Breakdown::Row row;
    row.die = state_.breakdownDies[d];
    row.cores = int(state_.breakdownDieCores[d]);
    b.dies.push_back(row);
    b.all.cores += row.cores;
  }
  // The mean over the steps that have one (a checkpoint from before it was kept has NaN).
  std::size_t steps = 0;
  double cycles = 0;
  for (std::size_t s = 0; s < state_.cycles.size() && (s + 1) * dies * columns <= state_.stepBreakdown.size(); ++s) {
    const double* v = &state_.stepBreakdown[s * dies * columns];
    if (dies && std::isnan(v[0])) continue;
    ++steps, cycles += state_.cycles[s];
    for (std::size_t d = 0; d < dies; ++d)
      for (std::size_t k = 0; k < columns; ++k) {
        b.dies[d].cycles[k] += v[d * columns + k];
        b.all.cycles[k] += v[d * columns + k] * double(b.dies[d].cores);
      }
  }
  for (auto& row : b.dies)
    for (double& v : row.cycles) v /= double(std::max<std::size_t>(1, steps));
  for (double& v : b.all.cycles) v /= double(std::max<std::size_t>(1, steps)) * double(std::max(1, b.all.cores));
  b.cycles = steps ? std::uint64_t(std::llround(cycles / double(steps))) : 0;
  if (last) b.critical = last->breakdown.critical;
  return b;
}

void Trainer::save(const std::string& path, double accuracy, double hostSeconds, const runtime::RunResult* last) const {
  TrainState s = state_;
  s.carried = session_->carried();
  const runtime::Session::HostLink& link = session_->hostLink();
  s.hostLink = {double(link.steps), double(link.lastEnd), double(link.endBefore), double(link.lastArrival)};
  const nlohmann::ordered_json summary = {{"steps", s.nextStep}, {"final_loss", s.loss.empty() ? 0.0 : s.loss.back()},
                                          {"test_accuracy", accuracy}, {"breakdown", runtime::breakdownJson(runBreakdown(last))}};
  writeRunFile(path, s, {runKey(), toIni(config_), summary.dump(), requestToJson(r_.step), hostSeconds, last});
}

void Trainer::recordBreakdown(std::int64_t step, const runtime::Breakdown& b) {
  constexpr std::size_t columns = runtime::kBreakdownColumns;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (state_.breakdownDies.empty())
    for (const auto& d : b.dies) state_.breakdownDies.push_back(d.die), state_.breakdownDieCores.push_back(double(d.cores));
  const std::size_t dies = state_.breakdownDies.size();
  // A checkpoint written before the breakdown was kept has none for its steps: NaN.
  state_.stepBreakdown.resize(std::size_t(step) * dies * columns, nan);
  state_.stepCriticalPath.resize(std::size_t(step) * columns, nan);
  for (std::size_t d = 0; d < dies; ++d)
    for (std::size_t k = 0; k < columns; ++k) state_.stepBreakdown.push_back(d < b.dies.size() ? b.dies[d].cycles[k] : nan);
  for (std::size_t k = 0; k < columns; ++k) state_.stepCriticalPath.push_back(double(b.critical.cycles[k]));
}

TrainSummary Trainer::run(const TrainLoopOptions& o) {
  const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - created_).count(); };
  if (!o.resume.empty()) {
    state_.carried = session_->carried();
    readRunFile(o.resume, runKey(), state_);
    const std::size_t done = std::size_t(state_.nextStep);
    if (state_.nextStep < 0 || state_.nextStep > totalSteps_ || state_.loss.size() != done || state_.cycles.size() != done)
      throw DataError("checkpoint '" + o.resume + "': next step " + std::to_string(state_.nextStep) + " with " + std::to_string(state_.loss.size()) +
                      " losses and " + std::to_string(state_.cycles.size()) + " cycle counts does not fit a run of " +
                      std::to_string(totalSteps_) + " steps");
    session_->setCarried(state_.carried);
    if (state_.hostLink.size() == 4) {
      const auto cycles = [&](std::size_t i) { return std::uint64_t(state_.hostLink[i]); };
      session_->resumeHostLink({std::int64_t(state_.hostLink[0]), cycles(1), cycles(2), cycles(3)});
    }
    if (oracle_) oracle_->state = state_.carried;
  }
  TrainSummary sum;
  // Not measured until an epoch ends (an interrupted run may end before): NaN, never 0.
  sum.accuracy = state_.epochAccuracy.empty() ? std::numeric_limits<double>::quiet_NaN() : state_.epochAccuracy.back();
  runtime::RunResult last;
  double lossSum = 0;
  // Resumed inside an epoch: its mean loss counts the steps before the checkpoint too.
  for (std::int64_t s = state_.nextStep - state_.nextStep % stepsPerEpoch_; s < state_.nextStep; ++s) lossSum += state_.loss[std::size_t(s)];
  std::uint64_t cycles = 0, usefulFlops = 0, matrixFlops = 0, allFlops = 0;
  const std::int64_t first = state_.nextStep;
  std::int64_t ran = 0;
  for (std::int64_t s = first; s < totalSteps_; ++s) {
    if (o.stop && o.stop->load()) {  // stopped before this step (e.g. while compiling)
      sum.stopped = true;
      break;
    }
    StepRecord rec = runStep(s, o.traceFirstStep && s == first);
    if (!rec.run.error.empty()) {
      sum.error = "step " + std::to_string(s) + " failed on the emulator: " + rec.run.error;
      break;
    }
    if (!r_.timingOnly && !std::isfinite(rec.loss)) {
      sum.error = "step " + std::to_string(s) + ": the loss is " + std::to_string(rec.loss) +
                  " (not a finite number): the weights have diverged (a lower --lr?) or the data holds NaN or infinity";
      break;
    }
    state_.nextStep = s + 1;
    recordBreakdown(s, rec.run.breakdown);
    state_.loss.push_back(rec.loss), state_.cycles.push_back(double(rec.run.stats.cycles));
    lossSum += rec.loss, sum.finalLoss = rec.loss, ++ran;
    cycles += rec.run.stats.cycles, usefulFlops += rec.run.usefulFlops(), matrixFlops += rec.run.stats.matrixFlops;
    allFlops += rec.run.stats.matrixFlops + rec.run.stats.vectorFlops;
    if (o.onStep) o.onStep(rec);
    const std::int64_t inEpoch = s % stepsPerEpoch_;
    if (inEpoch + 1 == stepsPerEpoch_ || s + 1 == totalSteps_) {
      EpochRecord e;
      // Timing only: the weights did not train; there is no accuracy to report.
      e.epoch = rec.epoch + 1, e.meanLoss = lossSum / double(inEpoch + 1);
      e.accuracy = sum.accuracy = r_.timingOnly ? std::numeric_limits<double>::quiet_NaN() : evaluate(&e.evalRuns, &e.evalCycles);
      if (e.evalRuns) e.evalExamples = std::int64_t(test_.count);
      e.steps = inEpoch + 1, e.stepsPerEpoch = stepsPerEpoch_;
      state_.epochAccuracy.push_back(e.accuracy);
      state_.epochEvalCycles.push_back(e.evalCycles);
      if (oracle_) e.oracleMeanLoss = oracle_->lossSum / double(inEpoch + 1), oracle_->lossSum = 0;
      lossSum = 0;
      sum.epochs.push_back(e);
      if (o.onEpoch) o.onEpoch(e);
    }
    last = std::move(rec.run);
    sum.stopped = o.stop && o.stop->load();
    if (!o.checkpoint.empty() && ((s + 1) % o.checkpointEvery == 0 || sum.stopped)) save(o.checkpoint, sum.accuracy, seconds(), &last);
    if (sum.stopped) break;
  }
  sum.breakdown = runBreakdown(ran ? &last : nullptr);
  sum.hostSeconds = seconds();
  sum.nextStep = state_.nextStep;
  if (!o.checkpoint.empty() && (!sum.stopped || ran == 0)) save(o.checkpoint, sum.accuracy, sum.hostSeconds, &last);
  if (!o.output.empty()) save(o.output, sum.accuracy, sum.hostSeconds, &last);
  const double peak = double(computeFigures(config_).bf16FlopPerCyclePerCore);
  sum.steps = state_.nextStep;
  double allCycles = 0;
  for (double c : state_.cycles) allCycles += c;
  sum.cyclesPerStep = sum.steps ? allCycles / double(sum.steps) : 0;
  if (sum.steps && ran == 0) sum.finalLoss = state_.loss.back();
  const double capacity = peak * double(cores()) * double(cycles);
  sum.matrixUtilization = cycles ? double(usefulFlops) / capacity : 0;
  sum.issuedUtilization = cycles ? double(matrixFlops) / capacity : 0;
  sum.usefulFlopsPerStep = ran ? double(usefulFlops) / double(ran) : 0;
  sum.issuedFlopsPerStep = ran ? double(allFlops) / double(ran) : 0;
  return sum;
}

}  // namespace tatami::driver
