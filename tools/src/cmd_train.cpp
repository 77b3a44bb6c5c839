// `tatami train`: options in, the driver's training loop, progress and the summary out.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>

#include "command.h"
#include "format_text.h"
#include "progress.h"
#include "step_options.h"
#include "run_report.h"
#include "trace_json.h"
#include "tatami/runtime/output_file.h"
#include "tatami/driver/trainer.h"

namespace tatami::cli {

namespace {

std::atomic<bool> interrupted{false};
extern "C" void onInterrupt(int) { interrupted = true; }

/// SIGINT and SIGTERM set `interrupted` while it lives (loading and compiling included): the
/// training loop ends after the step it is in, keeping every completed step.
struct InterruptScope {
  void (*previousInt)(int), (*previousTerm)(int);
  InterruptScope() : previousInt(std::signal(SIGINT, onInterrupt)), previousTerm(std::signal(SIGTERM, onInterrupt)) { interrupted = false; }
  ~InterruptScope() {
    std::signal(SIGINT, previousInt);
    std::signal(SIGTERM, previousTerm);
  }
};

struct TrainCli {
  driver::TrainRequest request;
  driver::TrainLoopOptions loop;
  std::string tracePath;
  std::int64_t logEvery = 100;
  bool json = false;
};

void addTrainOptions(po::options_description& desc, TrainCli& c) {
  driver::TrainRequest& r = c.request;
  desc.add_options()
      ("data", po::value<std::string>(&r.data)->default_value(r.data),
       "fashion-mnist (Debian's dataset-fashion-mnist), a folder of IDX files, or an HDF5 file (*.h5) with "
       "train_images, train_labels, test_images, test_labels")
      ("eval-data", po::value<std::string>(&r.evalData)->value_name("DATA"),
       "where the evaluation set comes from (its test split; same forms as --data; default: --data's)")
      ("epochs", po::value<std::int64_t>(&r.epochs)->default_value(r.epochs), "passes over the training set")
      ("steps", po::value<std::int64_t>(&r.steps)->default_value(r.steps), "stop after this many steps (0: run the epochs)")
      ("seed", po::value<std::uint64_t>(&r.seed)->default_value(r.seed), "seed of the data order")
      ("log-every", po::value<std::int64_t>(&c.logEvery)->default_value(c.logEvery), "print progress every N steps")
      ("json", po::bool_switch(&c.json), "print a JSON summary at the end")
      ("eval-on", po::value<std::string>(&r.evalOn)->default_value(r.evalOn),
       "where the test split is evaluated after each epoch: machine (the forward pass compiled for inference, on the "
       "step's placement, batch and precision; its cycles reported) or host (FP32 on the host, faster)")
      ("oracle", po::bool_switch(&r.oracle), "also train the host oracle (FP64) on the same batches and compare the mean loss per epoch")
      ("timing-only", po::bool_switch(&r.timingOnly), "simulate the steps without floating-point values (for speed; the weights do not train)")
      ("output", po::value<std::string>(&c.loop.output)->value_name("FILE.h5"),
       "write the run: per-step loss and cycles, per-epoch accuracy, final weights, config and summary")
      ("checkpoint", po::value<std::string>(&c.loop.checkpoint)->value_name("FILE.h5"),
       "keep a checkpoint (weights, optimizer state, history) here, every --checkpoint-every steps and on Ctrl-C")
      ("checkpoint-every", po::value<std::int64_t>(&c.loop.checkpointEvery)->default_value(c.loop.checkpointEvery), "steps between checkpoints")
      ("trace", po::value<std::string>(&c.tracePath)->value_name("FILE.json"),
       "write a Perfetto trace of the first step (a track per core thread and unit)")
      ("resume", po::value<std::string>(&c.loop.resume)->value_name("FILE.h5"),
       "continue from a checkpoint of the same run (same model, data order and options)");
}

void printEpoch(const driver::EpochRecord& e, bool oracle, std::ostream& out) {
  out << "epoch " << e.epoch;
  if (e.steps < e.stepsPerEpoch) out << " (" << e.steps << " of its " << e.stepsPerEpoch << " steps)";
  out << ": mean loss " << readable(e.meanLoss, 4) << ", test accuracy "
      << (std::isnan(e.accuracy) ? std::string("not measured (timing only)") : readable(100 * e.accuracy, 2) + "%");
  if (e.evalRuns)
    out << " (on the machine: " << e.evalRuns << " runs, " << readable(e.evalCycles, 0) << " cycles, "
        << readable(e.evalCycles / double(e.evalExamples), 1) << " per example)";
  if (oracle)
    out << "; host oracle on the same batches: mean loss " << readable(e.oracleMeanLoss, 4) << " ("
        << readable(100 * std::fabs(e.meanLoss - e.oracleMeanLoss) / e.oracleMeanLoss, 3) << "% apart)";
  out << "\n";
}

void printSummary(const driver::TrainSummary& s, std::size_t cores, bool oracle, bool json, std::ostream& out) {
  if (!json) {
    out << "done: " << s.steps << " steps, final loss " << readable(s.finalLoss, 4) << ", test accuracy "
        << (std::isnan(s.accuracy) ? std::string("not measured") : readable(100 * s.accuracy, 2) + "%") << ", " << readable(s.cyclesPerStep, 0) << " cycles per step, matrix utilization " << readable(s.matrixUtilization, 4)
        << " (issued " << readable(s.issuedUtilization, 4) << "), "
        << readable(s.hostSeconds, 1) << " s on the host\n";
    printBreakdownText(s.breakdown, out);
    return;
  }
  nlohmann::ordered_json epochs = nlohmann::ordered_json::array();
  for (const auto& e : s.epochs) {
    nlohmann::ordered_json j = {{"epoch", e.epoch}, {"steps", e.steps}, {"mean_loss", e.meanLoss}, {"test_accuracy", e.accuracy},
                                {"evaluated_on", e.evalRuns ? "machine" : "host"}};
    if (e.evalRuns) j["eval_runs"] = e.evalRuns, j["eval_cycles"] = e.evalCycles, j["eval_cycles_per_example"] = e.evalCycles / double(e.evalExamples);
    if (oracle) j["oracle_mean_loss"] = e.oracleMeanLoss, j["relative_difference"] = std::fabs(e.meanLoss - e.oracleMeanLoss) / e.oracleMeanLoss;
    epochs.push_back(j);
  }
  out << nlohmann::ordered_json{{"steps", s.steps}, {"final_loss", s.finalLoss}, {"test_accuracy", s.accuracy},
                                {"cycles_per_step", s.cyclesPerStep}, {"matrix_utilization", s.matrixUtilization},
                                {"issued_utilization", s.issuedUtilization}, {"cores", cores}, {"useful_matrix_flops_per_step", s.usefulFlopsPerStep},
                                {"issued_flops_per_step", s.issuedFlopsPerStep}, {"breakdown", runtime::breakdownJson(s.breakdown)},
                                {"host_seconds", s.hostSeconds}, {"epochs", epochs}}
             .dump(2)
      << "\n";
}

}  // namespace

int cmdTrain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  MachineOptions machine;
  TrainCli c;
  driver::CompileRequest& step = c.request.step;
  desc.add_options()("help,h", "show this help");
  addStepOptions(desc, step);
  addTrainOptions(desc, c);
  machine.addTo(desc);
  po::positional_options_description pos;
  pos.add("model", 1);
  po::variables_map vm;
  if (!parseArgs(args, desc, &pos, vm,
                 "Usage: tatami train MODEL [--data fashion-mnist] [--epochs N | --steps N] [--batch N] [--lr X] [--slice RxC | --grid RxC]\n"
                 "Train a model on the emulated machine and evaluate it on the test split.",
                 out))
    return kExitOk;
  if (step.model.empty()) throw UsageError("no model given");
  if (step.loss != "xent" && step.loss != "mse") throw UsageError("--loss '" + step.loss + "': expected xent or mse");
  if (c.request.evalOn != "machine" && c.request.evalOn != "host")
    throw UsageError("--eval-on '" + c.request.evalOn + "': expected machine or host");
  checkStepOptions(step);
  if (c.logEvery < 1) throw UsageError("--log-every " + std::to_string(c.logEvery) + ": expected 1 or more steps");
  if (c.loop.checkpointEvery < 1) throw UsageError("--checkpoint-every " + std::to_string(c.loop.checkpointEvery) + ": expected 1 or more steps");
  if (c.request.timingOnly && (c.request.oracle || !c.loop.checkpoint.empty() || !c.loop.resume.empty()))
    throw UsageError("--timing-only trains nothing: it does not combine with --oracle, --checkpoint or --resume");
  // Outputs that cannot be written stop the run before it starts, not after hours of it.
  for (const std::string* path : {&c.loop.output, &c.loop.checkpoint, &c.tracePath})
    if (!path->empty()) runtime::checkOutputPath(*path);
  const ArchConfig config = machine.resolve();
  const InterruptScope signals;
  try {
    if (c.json) err << "compiling the step and loading " << c.request.data << "..." << std::endl;
    else out << "compiling the step and loading " << c.request.data << "..." << std::endl;
    driver::Trainer trainer(c.request, config);
    // Progress: the step table on stdout, or on stderr when stdout carries the JSON summary; on a
    // terminal also a bar with the time left on stderr.
    std::ostream& progress = c.json ? err : out;
    ProgressBar bar(err, std::size_t(trainer.totalSteps()), "steps", stderrIsTerminal());
    progress << "training " << step.model << " on " << c.request.data << ": " << trainer.trainExamples() << " examples, batch " << step.batch
             << " over " << trainer.cores() << " core(s) (" << trainer.job().placement << "), " << trainer.totalSteps() << " steps, "
             << step.precision << " precision\n"
             << "  step      loss    cycles/step  sim us/step  useful TFLOPS  host s" << std::endl;
    const auto t0 = std::chrono::steady_clock::now();
    c.loop.traceFirstStep = !c.tracePath.empty();
    c.loop.stop = &interrupted;
    c.loop.onStep = [&](const driver::StepRecord& r) {
      if (!r.run.traces.empty()) runtime::writeOutputFile(c.tracePath, traceJson(config, r.run));
      if (r.step % c.logEvery == 0 || r.step + 1 == trainer.totalSteps()) {
        const double sim = double(r.run.stats.cycles) / (config.core.clock_ghz * 1e9);
        const double host = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        bar.clear();
        progress << std::setw(6) << r.step << std::setw(10) << readable(r.loss, 4) << std::setw(15) << r.run.stats.cycles << std::setw(13)
                 << readable(sim * 1e6, 2) << std::setw(15) << readable(double(r.run.usefulFlops()) / sim / 1e12, 3) << std::setw(8)
                 << readable(host, 1) << std::endl;  // a line at a time, also into a file
      }
      if (bar.terminal()) bar.update(std::size_t(r.step + 1));
    };
    c.loop.onEpoch = [&](const driver::EpochRecord& e) {
      bar.clear();
      printEpoch(e, c.request.oracle, progress);
      progress.flush();
    };
    const driver::TrainSummary s = trainer.run(c.loop);
    bar.finish();
    if (!s.error.empty()) {
      err << "tatami train: " << s.error << "\n";
      return kExitRunFailed;
    }
    if (s.stopped) {
      err << "tatami train: interrupted "
          << (s.nextStep > 0 ? "after step " + std::to_string(s.nextStep - 1) + "; every completed step is kept" : "before the first step")
          << (c.loop.checkpoint.empty() ? "" : " (resume with --resume " + c.loop.checkpoint + ")") << "\n";
      return kExitInterrupted;
    }
    printSummary(s, trainer.cores(), c.request.oracle, c.json, out);
  } catch (const compiler::SramOverflow& e) {
    err << "tatami train: " << e.what() << "\n  (each core holds its share of the batch: " << step.batch
        << " examples; spread it over more cores with --slice or --grid, or lower --batch)\n";
    return kExitBadInput;
  } catch (const compiler::CompileError& e) {
    err << "tatami train: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const driver::DataError& e) {
    err << "tatami train: " << e.what() << "\n";
    return kExitBadInput;
  }
  return kExitOk;
}

}  // namespace tatami::cli
