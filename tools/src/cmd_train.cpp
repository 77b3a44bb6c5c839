// `tatami train`: compiles a model's training step, then trains it on the emulated machine batch
// by batch (the weights carried from step to step), evaluates on the test split, and reports.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "command.h"
#include "format_text.h"
#include "trace_json.h"

#include <fstream>
#include "tatami/arch/assembler.h"
#include "tatami/arch/philox.h"
#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/lower.h"
#include "tatami/compiler/onnx_import.h"
#include "tatami/compiler/partition.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/compiler/training.h"
#include "tatami/runtime/dataset.h"
#include "tatami/runtime/results.h"
#include "tatami/runtime/run.h"

namespace tatami::cli {

namespace {

using namespace tatami::compiler;

runtime::SramImage image(const std::string& name, std::uint64_t addr, const float* data, std::size_t count) {
  runtime::SramImage img;
  img.name = name;
  img.addr = addr;
  img.shape = {std::uint64_t(count)};
  img.bytes.resize(count * 4);
  std::memcpy(img.bytes.data(), data, count * 4);
  return img;
}

std::atomic<bool> interrupted{false};
extern "C" void onInterrupt(int) { interrupted = true; }

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

}  // namespace

int cmdTrain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  MachineOptions machine;
  std::string model, data = "fashion-mnist", evalData, lossKind = "xent", precision = "mixed", slice = "1x1", grid, output, checkpoint,
      resume;
  std::int64_t checkpointEvery = 100;
  std::string tracePath;
  OptimizerConfig opt;
  std::int64_t batch = 64, epochs = 1, steps = 0, logEvery = 100;
  std::uint64_t seed = 1;
  desc.add_options()
      ("help,h", "show this help")
      ("model", po::value<std::string>(&model), "an ONNX model whose first output is class logits")
      ("data", po::value<std::string>(&data)->default_value("fashion-mnist"),
       "fashion-mnist (Debian's dataset-fashion-mnist), a folder of IDX files, or an HDF5 file (*.h5) with "
       "train_images, train_labels, test_images, test_labels")
      ("eval-data", po::value<std::string>(&evalData)->value_name("DATA"),
       "where the evaluation set comes from (its test split; same forms as --data; default: --data's)")
      ("loss", po::value<std::string>(&lossKind)->default_value("xent"),
       "xent (softmax cross-entropy on the logits) or mse (mean squared error against one-hot targets)")
      ("batch", po::value<std::int64_t>(&batch)->default_value(64), "batch size (split over the slice's cores)")
      ("epochs", po::value<std::int64_t>(&epochs)->default_value(1), "passes over the training set")
      ("steps", po::value<std::int64_t>(&steps)->default_value(0), "stop after this many steps (0: run the epochs)")
      ("optimizer", po::value<std::string>(&opt.kind)->default_value("sgd"), "sgd or adamw")
      ("lr", po::value<double>(&opt.learningRate)->default_value(0.1, "0.1"), "learning rate")
      ("momentum", po::value<double>(&opt.momentum)->default_value(0.0), "SGD momentum")
      ("weight-decay", po::value<double>(&opt.weightDecay)->default_value(0.0), "weight decay")
      ("precision", po::value<std::string>(&precision)->default_value("mixed"), "mixed (BF16 matmuls) or fp32")
      ("slice", po::value<std::string>(&slice)->default_value("1x1"), "RxC cores, data parallel")
      ("grid", po::value<std::string>(&grid)->value_name("RxC"),
       "tensor parallel over an RxC grid of cores instead (docs/compiler.md): the whole batch in one step, its "
       "examples, features and channels split over the grid; the grid's cores are taken from the whole first die, or "
       "from --slice when given")
      ("seed", po::value<std::uint64_t>(&seed)->default_value(1), "seed of the data order")
      ("log-every", po::value<std::int64_t>(&logEvery)->default_value(100), "print progress every N steps")
      ("json", "print a JSON summary at the end")
      ("oracle", "also train the host oracle (FP64) on the same batches and compare the mean loss per epoch")
      ("timing-only", "simulate the steps without floating-point values (for speed; the weights do not train)")
      ("output", po::value<std::string>(&output)->value_name("FILE.h5"),
       "write the run: per-step loss and cycles, per-epoch accuracy, final weights, config and summary")
      ("checkpoint", po::value<std::string>(&checkpoint)->value_name("FILE.h5"),
       "keep a checkpoint (weights, optimizer state, history) here, every --checkpoint-every steps and on Ctrl-C")
      ("checkpoint-every", po::value<std::int64_t>(&checkpointEvery)->default_value(100), "steps between checkpoints")
      ("trace", po::value<std::string>(&tracePath)->value_name("FILE.json"),
       "write a Perfetto trace of the first step (a track per core thread and unit)")
      ("resume", po::value<std::string>(&resume)->value_name("FILE.h5"),
       "continue from a checkpoint of the same run (same model, data order and options)");
  machine.addTo(desc);
  po::positional_options_description pos;
  pos.add("model", 1);
  po::variables_map vm;
  if (!parseArgs(args, desc, &pos, vm,
                 "Usage: tatami train MODEL [--data fashion-mnist] [--epochs N | --steps N] [--batch N] [--lr X] [--slice RxC | --grid RxC]\n"
                 "Train a model on the emulated machine and evaluate it on the test split.",
                 out))
    return kExitOk;
  if (model.empty()) throw UsageError("no model given");
  if (precision != "mixed" && precision != "fp32") throw UsageError("--precision '" + precision + "': expected mixed or fp32");
  if (lossKind != "xent" && lossKind != "mse") throw UsageError("--loss '" + lossKind + "': expected xent or mse");
  const auto addLoss = [&](Graph& g, int logits, int target) {
    return lossKind == "xent" ? addSoftmaxCrossEntropy(g, logits, target) : addMeanSquaredError(g, logits, target);
  };
  if (vm.count("timing-only") && (vm.count("oracle") || vm.count("checkpoint") || vm.count("resume")))
    throw UsageError("--timing-only trains nothing: it does not combine with --oracle, --checkpoint or --resume");
  const ArchConfig config = machine.resolve();
  const auto t0 = std::chrono::steady_clock::now();

  runtime::LabelledImages train, test;
  try {
    train = runtime::loadImageDataset(data, "train");
    test = runtime::loadImageDataset(evalData.empty() ? data : evalData, "t10k");
  } catch (const std::runtime_error& e) {
    err << "tatami train: " << e.what() << "\n";
    return kExitBadInput;
  }
  if (test.pixels != train.pixels) {
    err << "tatami train: the evaluation set has " << test.pixels << " values per example, the training set " << train.pixels << "\n";
    return kExitBadInput;
  }
  if (train.count == 0 || test.count == 0) {
    err << "tatami train: '" << data << "' has an empty " << (train.count == 0 ? "training" : "test") << " split\n";
    return kExitBadInput;
  }
  // The test split is evaluated on the host in batches of the largest divisor of its size up to 500.
  std::size_t evalBatch = std::min<std::size_t>(500, test.count);
  while (evalBatch > 1 && test.count % evalBatch) --evalBatch;
  // The slice and the per-core graph.
  const auto x = slice.find('x');
  if (x == std::string::npos) throw UsageError("--slice '" + slice + "': expected ROWSxCOLS");
  std::vector<int> ring;
  Graph step, forward, oracleStep;
  std::vector<LoweredProgram> lowered;
  std::vector<Program> programs;
  std::int64_t shard = 0;
  // On a grid: the plan and the grid's columns (core k is at row k / gridCols, column k % gridCols).
  GridJob job;
  int gridCols = 0;
  const bool onGrid = !grid.empty();
  try {
    if (onGrid) {
      const auto gx = grid.find('x');
      int gridRows = 0;
      try {
        if (gx == std::string::npos) throw std::invalid_argument("");
        gridRows = std::stoi(grid.substr(0, gx)), gridCols = std::stoi(grid.substr(gx + 1));
      } catch (const std::exception&) {
        throw UsageError("--grid '" + grid + "': expected ROWSxCOLS, e.g. 2x4");
      }
      const bool sliceGiven = !vm["slice"].defaulted();
      ring = gridCores(config, sliceGiven ? std::stoi(slice.substr(0, x)) : int(config.die.rows),
                       sliceGiven ? std::stoi(slice.substr(x + 1)) : int(config.die.cols), gridRows, gridCols);
      shard = batch;
    } else {
      ring = sliceRing(config, std::stoi(slice.substr(0, x)), std::stoi(slice.substr(x + 1)));
      if (batch % std::int64_t(ring.size()))
        throw UsageError("--batch " + std::to_string(batch) + " is not a multiple of the slice's " + std::to_string(ring.size()) + " active cores");
      shard = batch / std::int64_t(ring.size());
    }
    const std::int64_t cores = std::int64_t(ring.size());
    ImportOptions io;
    io.batch = shard;
    step = importOnnx(model, io);
    if (step.inputs.size() != 1 || step.outputs.empty()) throw CompileError(model + ": expected one input (images) and class logits as the first output");
    foldConstants(step);  // renumbers values: look up the logits after it
    const int logits = step.outputs.front();
    const Shape ls = step.values[std::size_t(logits)].shape;
    if (ls.size() != 2) throw CompileError(model + ": the first output must be logits [batch, classes], not " + shapeText(ls));
    const std::string inputName = step.values[std::size_t(step.inputs.front())].name;
    if (elementCount(step.values[std::size_t(step.inputs.front())].shape) != shard * std::int64_t(train.pixels))
      throw CompileError(model + ": input '" + inputName + "' does not hold " + std::to_string(train.pixels) + " pixels per example");
    const int target = addTarget(step, logits);
    step.outputs.clear();
    const int loss = addLoss(step, logits, target);
    std::function<int(Graph&, int)> combine;
    if (cores > 1 && !onGrid) combine = [](Graph& g, int v) { return g.op(compiler::Op::allreduce_mean, {v}); };
    addTrainingStep(step, loss, opt, combine);
    runPipeline(step, standardPasses(), {}, nullptr);
    if (onGrid) {
      job = placeOnGrid(step, config, ring, int(cores) / gridCols, gridCols, precision, false);  // weights come in each step
      lowered = job.lowered;
    } else {
      for (std::int64_t k = 0; k < cores; ++k) {
        CoreContext ctx(int(k), ring, precision);
        ctx.initParameters = false;  // the weights come in each step
        lowered.push_back(lowerToCore(step, config, ctx));
      }
    }
    for (const auto& lp : lowered) programs.push_back(assemble(lp.tasm, model + " (lowered)"));
    ImportOptions evalIo;
    evalIo.batch = std::int64_t(evalBatch);
    forward = importOnnx(model, evalIo);
    if (vm.count("oracle")) {
      // The whole-batch step, as the host computes it.
      ImportOptions whole;
      whole.batch = batch;
      oracleStep = importOnnx(model, whole);
      foldConstants(oracleStep);
      const int y = oracleStep.outputs.front();
      const int oracleTarget = addTarget(oracleStep, y);
      oracleStep.outputs.clear();
      addTrainingStep(oracleStep, addLoss(oracleStep, y, oracleTarget), opt);
      runPipeline(oracleStep, standardPasses(), {}, nullptr);
    }
  } catch (const SramOverflow& e) {
    err << "tatami train: " << e.what() << "\n";
    err << "  (each core holds its share of the batch: " << batch << " examples over " << ring.size()
          << " core(s); spread it over more cores with --slice or --grid, or lower --batch)\n";
    return kExitBadInput;
  } catch (const CompileError& e) {
    err << "tatami train: " << e.what() << "\n";
    return kExitBadInput;
  }
  const std::string inputName = step.values[std::size_t(step.inputs.front())].name;
  const std::int64_t classes = step.values[std::size_t(step.findRole(Role::Target))].shape[1];

  // The weights and optimizer state, on the host between steps.
  std::map<std::string, std::vector<float>> state;
  for (int p : step.parameters) {
    const Value& v = step.values[std::size_t(p)];
    state[v.name].assign(v.data.begin(), v.data.end());
  }
  for (int i : step.inputs) {
    const Value& v = step.values[std::size_t(i)];
    if (v.role == Role::OptimizerState) state[v.name].assign(std::size_t(elementCount(v.shape)), 0.0f);
  }
  const std::string lossName = step.values[std::size_t(step.outputs.front())].name;
  // What identifies the run: a checkpoint resumes only the same one.
  std::ostringstream runKey;
  runKey << "model=" << model << " data=" << data << " batch=" << batch << " slice=" << slice << (onGrid ? " grid=" + grid : "")
         << " precision=" << precision
         << " optimizer=" << opt.kind << " lr=" << opt.learningRate << " momentum=" << opt.momentum
         << " weight_decay=" << opt.weightDecay << " seed=" << seed << " config=" << std::hash<std::string>()(toIni(config));
  std::vector<double> lossHistory, cycleHistory, accuracyHistory;
  runtime::RunResult lastRun;  // the statistics of the last step go into the run file
  std::int64_t firstStep = 0;
  if (!resume.empty()) {
    std::map<std::string, std::string> attrs;
    std::vector<runtime::NamedArray> arrays;
    try {
      arrays = runtime::readArrays(resume, &attrs);
    } catch (const std::runtime_error& e) {
      err << "tatami train: " << e.what() << "\n";
      return kExitBadInput;
    }
    if (attrs["run"] != runKey.str()) {
      err << "tatami train: checkpoint '" << resume << "' is of another run:\n  it has: " << attrs["run"]
          << "\n  this is: " << runKey.str() << "\n";
      return kExitBadInput;
    }
    for (const auto& a : arrays) {
      if (a.name == "next_step") firstStep = std::int64_t(a.data.at(0));
      else if (a.name == "loss") lossHistory = a.data;
      else if (a.name == "cycles") cycleHistory = a.data;
      else if (a.name == "epoch_accuracy") accuracyHistory = a.data;
      else if (a.name.rfind("state/", 0) == 0) {
        auto it = state.find(a.name.substr(6));
        if (it == state.end() || it->second.size() != a.data.size()) {
          err << "tatami train: checkpoint '" << resume << "': '" << a.name << "' does not fit the model\n";
          return kExitBadInput;
        }
        it->second.assign(a.data.begin(), a.data.end());
      }
    }
  }
  const auto save = [&](const std::string& path, std::int64_t nextStep, double acc, double hostSeconds) {
    std::vector<runtime::NamedArray> arrays = {{"next_step", {1}, {double(nextStep)}},
                                               {"loss", {lossHistory.size()}, lossHistory},
                                               {"cycles", {cycleHistory.size()}, cycleHistory},
                                               {"epoch_accuracy", {accuracyHistory.size()}, accuracyHistory}};
    for (const auto& [name, w] : state) {
      const bool weight = step.find(name) >= 0 && step.values[std::size_t(step.find(name))].kind == ValueKind::Parameter;
      arrays.push_back({(weight ? "weights/" : "state/") + name, {w.size()}, std::vector<double>(w.begin(), w.end())});
      if (weight) arrays.push_back({"state/" + name, {w.size()}, std::vector<double>(w.begin(), w.end())});
    }
    // The last step's statistics: per core (unit busy cycles, stall cycles by cause) and per link.
    const Unit units[] = {Unit::Scalar, Unit::Sync, Unit::Vector, Unit::Matrix, Unit::Dma};
    for (const auto& [core, st] : lastRun.perCore) {
      std::vector<double> busy, stalls(5, 0.0);
      for (Unit u : units) busy.push_back(double(st.unitBusy[std::size_t(u)]));
      for (const auto& th : st.threads)
        stalls[0] += double(th.stallHazard), stalls[1] += double(th.stallUnit), stalls[2] += double(th.stallPort),
            stalls[3] += double(th.stallSemaphore), stalls[4] += double(th.stallBarrier);
      const std::string c = "stats/core_" + std::to_string(core);
      arrays.push_back({c + "/unit_busy_cycles", {5}, busy});
      arrays.push_back({c + "/stall_cycles", {5}, stalls});
      arrays.push_back({c + "/cycles", {1}, {double(st.cycles)}});
    }
    nlohmann::json linkNames = nlohmann::json::array();
    std::vector<double> linkPackets, linkBytes, linkBusy;
    for (const auto& l : lastRun.network.links)
      linkNames.push_back(l.name), linkPackets.push_back(double(l.packets)), linkBytes.push_back(double(l.bytes)),
          linkBusy.push_back(double(l.busyCycles));
    arrays.push_back({"stats/link_packets", {linkPackets.size()}, linkPackets});
    arrays.push_back({"stats/link_bytes", {linkBytes.size()}, linkBytes});
    arrays.push_back({"stats/link_busy_cycles", {linkBusy.size()}, linkBusy});
    const nlohmann::ordered_json summary = {{"steps", nextStep}, {"final_loss", lossHistory.empty() ? 0.0 : lossHistory.back()},
                                            {"test_accuracy", acc}, {"host_seconds", hostSeconds}};
    runtime::writeArrays(path, arrays,
                         {{"run", runKey.str()},
                          {"config", toIni(config)},
                          {"summary", summary.dump()},
                          {"stats_units", "unit_busy_cycles: scalar, sync, vector, matrix, dma; stall_cycles: hazard, unit, port, semaphore, barrier"},
                          {"stats_link_names", linkNames.dump()}});
  };
  const std::int64_t stepsPerEpoch = std::int64_t(train.count) / batch;
  const std::int64_t total = steps > 0 ? steps : stepsPerEpoch * epochs;

  const auto evaluateAccuracy = [&]() {
    std::size_t correct = 0;
    for (std::size_t start = 0; start + evalBatch <= test.count; start += evalBatch) {
      std::map<std::string, Tensor> feeds;
      const Value& in = forward.values[std::size_t(forward.inputs.front())];
      feeds[in.name] = Tensor{in.shape, std::vector<double>(test.images.begin() + long(start * test.pixels),
                                                            test.images.begin() + long((start + evalBatch) * test.pixels))};
      for (int p : forward.parameters) {
        const Value& v = forward.values[std::size_t(p)];
        const auto& w = state.at(v.name);
        feeds[v.name] = Tensor{v.shape, std::vector<double>(w.begin(), w.end())};
      }
      EvalOptions fp32;
      fp32.roundToFloat = true;
      const auto r = evaluate(forward, feeds, fp32);
      const auto& logits = r[std::size_t(forward.outputs.front())].data;
      for (std::size_t i = 0; i < evalBatch; ++i) {
        const auto row = logits.begin() + long(i * std::size_t(classes));
        if (std::size_t(std::max_element(row, row + classes) - row) == test.labels[start + i]) ++correct;
      }
    }
    return double(correct) / double(test.count);
  };

  if (!vm.count("json"))
    out << "training " << model << " on " << data << ": " << train.count << " examples, batch " << batch << " over "
        << ring.size() << " core(s), " << total << " steps, " << precision << " precision\n"
        << "  step      loss    cycles/step  sim us/step  achieved TFLOPS  host s\n";
  double lastLoss = 0, lossSum = 0, accuracy = 0, oracleLossSum = 0;
  std::map<std::string, std::vector<double>> oracleState;
  for (const auto& [name, w] : state) oracleState[name].assign(w.begin(), w.end());
  nlohmann::ordered_json epochLog = nlohmann::ordered_json::array();
  std::uint64_t cycleSum = 0, matrixFlops = 0, allFlops = 0;
  std::int64_t done = 0;
  std::vector<std::uint32_t> order;
  interrupted = false;
  auto previousHandler = std::signal(SIGINT, onInterrupt);
  for (std::int64_t s = firstStep; s < total; ++s) {
    const std::int64_t epoch = s / stepsPerEpoch, inEpoch = s % stepsPerEpoch;
    if (inEpoch == 0 || order.empty()) order = shuffled(train.count, seed, std::uint64_t(epoch));
    std::vector<runtime::CoreProgram> all;
    if (onGrid) {
      // The whole batch, and every tensor cut into each grid position's block.
      std::map<std::string, std::vector<double>> full;
      std::vector<double>& xs = full[inputName];
      std::vector<double>& ts = full["target"];
      xs.resize(std::size_t(batch) * train.pixels), ts.assign(std::size_t(batch * classes), 0.0);
      for (std::int64_t i = 0; i < batch; ++i) {
        const std::uint32_t e = order[std::size_t(inEpoch * batch + i)];
        std::copy_n(train.images.begin() + long(std::size_t(e) * train.pixels), train.pixels, xs.begin() + long(std::size_t(i) * train.pixels));
        ts[std::size_t(i * classes + train.labels[e])] = 1.0;
      }
      for (const auto& [name, w] : state) full[name].assign(w.begin(), w.end());
      for (std::size_t k = 0; k < ring.size(); ++k) {
        all.emplace_back(ring[k], &programs[k]);
        for (const auto& [name, values] : full) {
          const int v = step.find(name);
          const std::vector<double> block = sliceBlock(blockOf(step, job.plan, v, int(k) / gridCols, int(k) % gridCols), step.values[std::size_t(v)].shape, values);
          const std::vector<float> f(block.begin(), block.end());
          all.back().inputs.push_back(image(name, lowered[k].layout.at(name).addr, f.data(), f.size()));
        }
      }
    }
    for (std::size_t k = 0; k < ring.size() && !onGrid; ++k) {
      all.emplace_back(ring[k], &programs[k]);
      std::vector<float> xs(std::size_t(shard) * train.pixels), ts(std::size_t(shard * classes), 0.0f);
      for (std::int64_t i = 0; i < shard; ++i) {
        const std::uint32_t e = order[std::size_t(inEpoch * batch + std::int64_t(k) * shard + i)];
        std::copy_n(train.images.begin() + long(std::size_t(e) * train.pixels), train.pixels, xs.begin() + long(std::size_t(i) * train.pixels));
        ts[std::size_t(i * classes + train.labels[e])] = 1.0f;
      }
      const auto& layout = lowered[k].layout;
      all.back().inputs.push_back(image(inputName, layout.at(inputName).addr, xs.data(), xs.size()));
      all.back().inputs.push_back(image("target", layout.at("target").addr, ts.data(), ts.size()));
      for (const auto& [name, w] : state) all.back().inputs.push_back(image(name, layout.at(name).addr, w.data(), w.size()));
    }
    runtime::RunOptions runOptions;
    runOptions.trace = !tracePath.empty() && s == firstStep;
    runOptions.timingOnly = vm.count("timing-only") > 0;
    const runtime::RunResult r = runtime::runPrograms(config, all, runOptions);
    if (runOptions.trace) {
      std::ofstream f(tracePath);
      f << traceJson(config, r);
    }
    if (!r.error.empty()) {
      err << "tatami train: step " << s << " failed on the emulator: " << r.error << "\n";
      return kExitRunFailed;
    }
    // Carry the updated weights and state (every core holds the same; take the first's).
    // A timing-only step has no values: the loss is unknown and the weights stay as they are.
    const std::string prefix = ring.size() > 1 ? "c" + std::to_string(ring[0]) + "." : "";
    if (runOptions.timingOnly) lastLoss = std::numeric_limits<double>::quiet_NaN();
    if (onGrid && !runOptions.timingOnly) {
      // Every output put together from the cores' blocks.
      std::map<std::string, const runtime::SramImage*> byName;
      for (const auto& img : r.outputs) byName[img.name] = &img;
      for (int o : step.outputs) {
        const Value& v = step.values[std::size_t(o)];
        std::vector<double> whole(std::size_t(elementCount(v.shape)), 0.0);
        for (std::size_t k = 0; k < ring.size(); ++k) {
          const auto it = byName.find(ring.size() > 1 ? "c" + std::to_string(ring[k]) + "." + v.name : v.name);
          if (it == byName.end()) continue;
          const Block b = blockOf(step, job.plan, o, int(k) / gridCols, int(k) % gridCols);
          std::vector<float> f(std::size_t(elementCount(b.local)));
          std::memcpy(f.data(), it->second->bytes.data(), std::min(f.size() * 4, it->second->bytes.size()));
          placeBlock(b, v.shape, std::vector<double>(f.begin(), f.end()), whole);
        }
        if (v.name == lossName) lastLoss = whole.at(0);
        else if (v.role == Role::Update) state.at(v.of).assign(whole.begin(), whole.end());
      }
    }
    for (const auto& img : r.outputs) {
      if (runOptions.timingOnly || onGrid) break;
      if (img.name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string name = img.name.substr(prefix.size());
      if (name == lossName) {
        float l;
        std::memcpy(&l, img.bytes.data(), 4);
        lastLoss = l;
        continue;
      }
      const int v = step.find(name);
      if (v >= 0 && step.values[std::size_t(v)].role == Role::Update) {
        auto& w = state.at(step.values[std::size_t(v)].of);
        std::memcpy(w.data(), img.bytes.data(), w.size() * 4);
      }
    }
    lastRun = r;
    if (vm.count("oracle")) {
      // The same batch on the host, from the oracle's own weights.
      std::map<std::string, Tensor> feeds;
      const Value& in = oracleStep.values[std::size_t(oracleStep.inputs.front())];
      std::vector<double> xs, ts(std::size_t(batch * classes), 0.0);
      for (std::int64_t i = 0; i < batch; ++i) {
        const std::uint32_t e = order[std::size_t(inEpoch * batch + i)];
        xs.insert(xs.end(), train.images.begin() + long(std::size_t(e) * train.pixels), train.images.begin() + long(std::size_t(e + 1) * train.pixels));
        ts[std::size_t(i * classes + train.labels[e])] = 1.0;
      }
      feeds[in.name] = Tensor{in.shape, xs};
      feeds["target"] = Tensor{{batch, classes}, ts};
      for (const auto& [name, w] : oracleState) {
        const int v = oracleStep.find(name);
        if (v >= 0) feeds[name] = Tensor{oracleStep.values[std::size_t(v)].shape, w};
      }
      const auto res = evaluate(oracleStep, feeds);
      oracleLossSum += res[std::size_t(oracleStep.outputs.front())].data[0];
      for (auto& [name, w] : oracleState) {
        const int v = oracleStep.findRole(Role::Update, name);
        if (v >= 0) w = res[std::size_t(v)].data;
      }
    }
    lossSum += lastLoss;
    lossHistory.push_back(lastLoss);
    cycleHistory.push_back(double(r.stats.cycles));
    cycleSum += r.stats.cycles;
    matrixFlops += r.stats.matrixFlops;
    allFlops += r.stats.matrixFlops + r.stats.vectorFlops;
    ++done;
    const double host = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!vm.count("json") && (s % logEvery == 0 || s + 1 == total)) {
      const double simSeconds = double(r.stats.cycles) / (config.core.clock_ghz * 1e9);
      out << std::setw(6) << s << std::setw(10) << readable(lastLoss, 4) << std::setw(15) << r.stats.cycles << std::setw(13)
          << readable(simSeconds * 1e6, 2) << std::setw(17) << readable(double(r.stats.matrixFlops + r.stats.vectorFlops) / simSeconds / 1e12, 3)
          << std::setw(8) << readable(host, 1) << "\n";
    }
    if (inEpoch + 1 == stepsPerEpoch || s + 1 == total) {
      accuracy = evaluateAccuracy();
      accuracyHistory.push_back(accuracy);
      const double meanLoss = lossSum / double(inEpoch + 1), oracleMean = oracleLossSum / double(inEpoch + 1);
      nlohmann::ordered_json e = {{"epoch", epoch + 1}, {"mean_loss", meanLoss}, {"test_accuracy", accuracy}};
      if (vm.count("oracle")) e["oracle_mean_loss"] = oracleMean, e["relative_difference"] = std::fabs(meanLoss - oracleMean) / oracleMean;
      epochLog.push_back(e);
      if (!vm.count("json")) {
        out << "epoch " << epoch + 1 << ": mean loss " << readable(meanLoss, 4) << ", test accuracy " << readable(100 * accuracy, 2) << "%";
        if (vm.count("oracle"))
          out << "; host oracle on the same batches: mean loss " << readable(oracleMean, 4) << " ("
              << readable(100 * std::fabs(meanLoss - oracleMean) / oracleMean, 3) << "% apart)";
        out << "\n";
      }
      lossSum = 0;
      oracleLossSum = 0;
    }
    const double hostNow = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!checkpoint.empty() && ((s + 1) % checkpointEvery == 0 || interrupted)) save(checkpoint, s + 1, accuracy, hostNow);
    if (interrupted) {
      std::signal(SIGINT, previousHandler);
      if (!output.empty()) save(output, s + 1, accuracy, hostNow);
      err << "tatami train: interrupted after step " << s << "; every completed step is kept"
          << (checkpoint.empty() ? "" : " (resume with --resume " + checkpoint + ")") << "\n";
      return kExitRunFailed;
    }
  }
  std::signal(SIGINT, previousHandler);
  const double hostSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!checkpoint.empty()) save(checkpoint, total, accuracy, hostSeconds);
  if (!output.empty()) save(output, total, accuracy, hostSeconds);
  const double cyclesPerStep = done ? double(cycleSum) / double(done) : 0;
  const double peak = 2.0 * double(config.core.matrix_units * config.core.matrix_dim * config.core.matrix_dim);
  const double util = cycleSum ? double(matrixFlops) / (peak * double(ring.size()) * double(cycleSum)) : 0;
  if (vm.count("json")) {
    out << nlohmann::ordered_json{{"steps", done},          {"final_loss", lastLoss},    {"test_accuracy", accuracy},
                                  {"cycles_per_step", cyclesPerStep}, {"matrix_utilization", util}, {"cores", ring.size()},
                                  {"flops_per_step", done ? double(allFlops) / double(done) : 0},
                                  {"host_seconds", hostSeconds}, {"epochs", epochLog}}
                   .dump(2)
        << "\n";
  } else {
    out << "done: " << done << " steps, final loss " << readable(lastLoss, 4) << ", test accuracy " << readable(100 * accuracy, 2)
        << "%, " << readable(cyclesPerStep, 0) << " cycles per step, matrix utilization " << readable(util, 4) << ", "
        << readable(hostSeconds, 1) << " s on the host\n";
  }
  return kExitOk;
}

}  // namespace tatami::cli
