// Training a model on the emulated machine: its step compiled once for a placement (one core, a
// data-parallel slice, a tensor-parallel grid; streaming weights from HBM when SRAM is too small),
// then run batch after batch in a runtime session that carries the weights and optimizer state;
// the test split evaluated after every epoch, by the model's forward pass compiled for inference
// and run on the machine on the same placement (or on the host, in FP32, when asked); the host
// oracle (FP64) trained on the
// same batches when asked; checkpoints to resume from.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/driver/checkpoint.h"
#include "tatami/driver/job.h"
#include "tatami/runtime/dataset.h"
#include "tatami/runtime/session.h"

namespace tatami::driver {

struct TrainRequest {
  CompileRequest step;  ///< model, loss (xent or mse), optimizer, batch, precision, slice or grid
  std::string data = "fashion-mnist";  ///< see runtime::loadImageDataset
  std::string evalData;                ///< where the test split comes from (empty: data's)
  std::int64_t epochs = 1, steps = 0;  ///< steps > 0: stop after that many
  std::uint64_t seed = 1;              ///< of the data order
  bool oracle = false;                 ///< also train the host oracle on the same batches
  bool timingOnly = false;             ///< simulate without values (nothing trains)
  /// Where the test split is evaluated: "machine" (the forward pass compiled for inference, in the
  /// step's precision, on the step's placement and batch) or "host" (FP32, faster).
  std::string evalOn = "machine";
};

/// One step done.
struct StepRecord {
  std::int64_t step = 0, epoch = 0;
  double loss = std::numeric_limits<double>::quiet_NaN();  ///< NaN when timing only
  runtime::RunResult run;
};

/// One epoch done (or the run ended inside one).
struct EpochRecord {
  std::int64_t epoch = 0;  ///< from 1
  std::int64_t steps = 0, stepsPerEpoch = 0;  ///< steps of the epoch run (fewer when the run stops inside it)
  double meanLoss = 0, accuracy = 0;
  /// Evaluated on the machine: its runs (batches; the last one padded) and their cycles in all.
  std::int64_t evalRuns = 0;
  double evalCycles = 0;
  std::int64_t evalExamples = 0;
  double oracleMeanLoss = std::numeric_limits<double>::quiet_NaN();  ///< with TrainRequest::oracle
};

/// What the loop does besides training, and whom it tells.
struct TrainLoopOptions {
  std::string checkpoint;              ///< written every checkpointEvery steps, on a stop and at the end
  std::int64_t checkpointEvery = 100;
  std::string output;                  ///< the run file, written at the end (and on a stop)
  std::string resume;                  ///< a checkpoint of the same run to continue from
  bool traceFirstStep = false;         ///< keep the trace slices of the first step run
  const std::atomic<bool>* stop = nullptr;  ///< set (e.g. on Ctrl-C): the loop ends after the step it is in
  std::function<void(const StepRecord&)> onStep;
  std::function<void(const EpochRecord&)> onEpoch;
};

struct TrainSummary {
  std::int64_t steps = 0;  ///< of the run, those before a resume included
  std::int64_t nextStep = 0;  ///< the step a resumed run would start at
  double finalLoss = std::numeric_limits<double>::quiet_NaN();
  /// Test accuracy after the last epoch that ended; NaN when none did (an interrupted run) or
  /// the run was timing only.
  double accuracy = std::numeric_limits<double>::quiet_NaN();
  double cyclesPerStep = 0;      ///< over every step of the run
  double matrixUtilization = 0;   ///< useful matrix FLOPs / (peak x cores x cycles), over the steps run in this call
  double issuedUtilization = 0;   ///< the same with the FLOPs the matrix units issued (padding to tiles included)
  double usefulFlopsPerStep = 0;  ///< the model's matrix FLOPs (RunResult::usefulFlops), over the steps run in this call
  double issuedFlopsPerStep = 0;  ///< issued by the matrix and vector units, over the steps run in this call
  double hostSeconds = 0;        ///< since the trainer was made (loading and compiling included)
  /// Where the cycles went: per die and in all, the mean step of the run (as cyclesPerStep, the
  /// steps before a resume included); the critical path of the last step run in this call
  /// (runtime/breakdown.h). Every step's is in the run file.
  runtime::Breakdown breakdown;
  bool stopped = false;          ///< ended early by TrainLoopOptions::stop
  std::string error;             ///< the emulator's fault, with the step it happened in
  std::vector<EpochRecord> epochs;
};

class Trainer {
 public:
  /// Loads the data and compiles the step. Throws DataError (unusable data), RequestError (bad
  /// options) or compiler::CompileError (including SramOverflow).
  Trainer(TrainRequest request, const ArchConfig& config);
  ~Trainer();

  std::int64_t totalSteps() const { return totalSteps_; }
  std::size_t cores() const { return session_->bundle().programs.size(); }
  std::size_t trainExamples() const { return train_.count; }
  const CompiledJob& job() const { return job_; }
  /// What identifies the run: model, data, options, configuration.
  std::string runKey() const;

  /// Trains from where the state stands (after `options.resume`) to the last step.
  TrainSummary run(const TrainLoopOptions& options);

  /// The fraction of the test split the carried weights classify right, on the machine or the
  /// host (TrainRequest::evalOn); on the machine, `runs` and `cycles` receive its runs and cycles.
  double evaluate(std::int64_t* runs = nullptr, double* cycles = nullptr) const;
  /// The inference job evaluation runs on the machine (null when it runs on the host).
  const CompiledJob* evalJob() const { return evalSession_ ? &evalJob_ : nullptr; }

 private:
  struct Oracle;
  std::vector<runtime::NamedArray> batchAt(std::int64_t step);
  StepRecord runStep(std::int64_t step, bool trace);
  void save(const std::string& path, double accuracy, double hostSeconds, const runtime::RunResult* last) const;
  /// The breakdown of every step of the run so far (resumed ones too): the mean per step, the
  /// critical path of `last` (none when null).
  runtime::Breakdown runBreakdown(const runtime::RunResult* last) const;
  /// Appends a step's breakdown to the state (its dies named at the first).
  void recordBreakdown(std::int64_t step, const runtime::Breakdown& b);

  std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();  ///< host seconds count from here
  TrainRequest r_;
  ArchConfig config_;
  runtime::LabelledImages train_, test_;
  CompiledJob job_;
  std::unique_ptr<runtime::Session> session_;
  compiler::Graph forward_;  ///< the model on an evaluation batch (on the host)
  CompiledJob evalJob_;      ///< the forward pass for inference (on the machine)
  std::unique_ptr<runtime::Session> evalSession_;
  double evaluateOnHost() const;
  double evaluateOnMachine(std::int64_t* runs, double* cycles) const;
  /// Of `examples` test examples from `first`, the labels their logits classify right.
  std::size_t correctRows(const std::vector<double>& logits, std::size_t first, std::size_t examples) const;
  std::size_t evalBatch_ = 1;
  std::int64_t classes_ = 0, stepsPerEpoch_ = 0, totalSteps_ = 0;
  std::vector<std::uint32_t> order_;
  std::int64_t orderEpoch_ = -1;
  /// The batch of step nextStep_, made for the step before it (which read it into the machine).
  std::vector<runtime::NamedArray> nextBatch_;
  std::int64_t nextStep_ = -1;
  TrainState state_;
  std::unique_ptr<Oracle> oracle_;
};

}  // namespace tatami::driver
