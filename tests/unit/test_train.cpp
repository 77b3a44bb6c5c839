// `tatami train` end to end (in process): the loss falls; a resumed run ends with exactly the
// weights of an uninterrupted one; a checkpoint of another run is refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tatami/driver/trainer.h"
#include "tatami/runtime/results.h"
#include "tatami/tools/cli.h"

using namespace tatami;

namespace {

// These runs test training, checkpoints and data: the test split is evaluated on the host (FP32,
// fast); evaluation on the machine has its CLI tests (cli.eval_on, cli.train_fashion_mnist).
int train(std::vector<std::string> args, std::string* text = nullptr) {
  args.insert(args.begin(), {"tatami", "train", TATAMI_SOURCE_DIR "/examples/fashion_mnist/mlp.onnx", "--log-every", "1000", "--eval-on", "host"});
  std::ostringstream out, err;
  const int rc = cli::run(args, out, err);
  if (text) *text = out.str() + err.str();
  return rc;
}

/// A run with --json: its standard output, which holds the JSON summary alone (progress goes to
/// standard error).
nlohmann::json trainJson(std::vector<std::string> args) {
  args.insert(args.begin(), {"tatami", "train", TATAMI_SOURCE_DIR "/examples/fashion_mnist/mlp.onnx", "--json", "--eval-on", "host"});
  std::ostringstream out, err;
  REQUIRE(cli::run(args, out, err) == 0);
  CHECK(err.str().find("training ") != std::string::npos);
  return nlohmann::json::parse(out.str());
}

std::map<std::string, std::vector<double>> weights(const std::string& path) {
  std::map<std::string, std::vector<double>> w;
  for (const auto& a : runtime::readArrays(path))
    if (a.name.rfind("weights/", 0) == 0) w[a.name] = a.data;
  return w;
}

}  // namespace

TEST_CASE("training resumes from a checkpoint to exactly the same weights") {
  REQUIRE(train({"--steps", "12", "--output", "t_full.h5"}) == 0);
  REQUIRE(train({"--steps", "6", "--checkpoint", "t_ck.h5", "--checkpoint-every", "3"}) == 0);
  REQUIRE(train({"--steps", "12", "--resume", "t_ck.h5", "--output", "t_resumed.h5"}) == 0);
  const auto a = weights("t_full.h5"), b = weights("t_resumed.h5");
  REQUIRE(a.size() == 4);
  CHECK(a == b);
  // The loss history is whole in the resumed run's file, and falls.
  std::vector<double> loss;
  for (const auto& arr : runtime::readArrays("t_resumed.h5"))
    if (arr.name == "loss") loss = arr.data;
  REQUIRE(loss.size() == 12);
  CHECK(loss.back() < loss.front());
  // Every step takes the cycles it takes in the uninterrupted run: the checkpoint keeps the host
  // link's timeline, and the checkpointed run's last step read its next batch as any step does
  // (here the host link holds up steps 8 and 10 by a few cycles).
  const auto cyclesOf = [](const std::string& path) {
    for (const auto& arr : runtime::readArrays(path))
      if (arr.name == "cycles") return arr.data;
    return std::vector<double>{};
  };
  const std::vector<double> full = cyclesOf("t_full.h5"), resumed = cyclesOf("t_resumed.h5");
  REQUIRE(full.size() == 12);
  CHECK(full == resumed);
  CHECK(*std::max_element(full.begin(), full.end()) > *std::min_element(full.begin(), full.end()));
  // The resumed run reports the whole run: its steps, and the epoch's mean loss over all of them.
  const auto a1 = trainJson({"--steps", "12"}), b1 = trainJson({"--steps", "12", "--resume", "t_ck.h5"});
  CHECK(b1["steps"] == 12);
  CHECK(b1["epochs"][0]["steps"] == 12);
  CHECK(b1["epochs"][0]["mean_loss"] == a1["epochs"][0]["mean_loss"]);
  CHECK(b1["final_loss"] == a1["final_loss"]);
  CHECK(b1["cycles_per_step"] == a1["cycles_per_step"]);
  std::string text;
  CHECK(train({"--steps", "12", "--lr", "0.5", "--resume", "t_ck.h5"}, &text) == 2);
  CHECK(text.find("is of another run") != std::string::npos);
  for (const char* f : {"t_full.h5", "t_ck.h5", "t_resumed.h5"}) std::remove(f);
}

TEST_CASE("bad training options and data are refused by name, never crash") {
  std::string text;
  std::ostringstream out, err;
  CHECK(cli::run({"tatami", "train", TATAMI_SOURCE_DIR "/examples/fashion_mnist/mlp.onnx", "--log-every", "0"}, out, err) == 2);
  CHECK(err.str().find("--log-every 0: expected 1 or more steps") != std::string::npos);
  CHECK(train({"--checkpoint-every", "0"}, &text) == 2);
  CHECK(text.find("--checkpoint-every 0: expected 1 or more steps") != std::string::npos);
  // A label beyond the model's 10 classes.
  std::vector<double> images(64 * 784, 0.0), labels(64, 1.0);
  labels[5] = 255;
  runtime::writeArrays("t_labels.h5", {{"train_images", {64, 784}, images}, {"train_labels", {64}, labels},
                                       {"test_images", {64, 784}, images}, {"test_labels", {64}, std::vector<double>(64, 0.0)}}, {});
  CHECK(train({"--data", "t_labels.h5", "--steps", "1"}, &text) == 2);
  CHECK(text.find("'t_labels.h5': example 5 of the training split has label 255; the model has 10 classes (0..9)") != std::string::npos);
  // A checkpoint whose next step does not fit the run.
  runtime::writeArrays("t_bad_ck.h5", {{"next_step", {1}, {-5.0}}}, {});
  std::map<std::string, std::string> attrs;
  REQUIRE(train({"--steps", "2", "--checkpoint", "t_key.h5"}) == 0);
  runtime::readArrays("t_key.h5", &attrs);
  runtime::writeArrays("t_bad_ck.h5", {{"next_step", {1}, {7.0}}}, {{"run", attrs["run"]}});
  CHECK(train({"--steps", "2", "--resume", "t_bad_ck.h5"}, &text) == 2);
  CHECK(text.find("checkpoint 't_bad_ck.h5': next step 7 with 0 losses and 0 cycle counts does not fit a run of 2 steps") != std::string::npos);
  // Next steps that are not step counts (2.2e307 was undefined behaviour, found by fuzz_hdf5).
  for (const auto& [step, shown] : std::vector<std::pair<double, std::string>>{{-5.0, "-5"}, {2.24712e307, "2.24712e+307"}, {1.5, "1.5"}, {std::nan(""), "nan"}}) {
    runtime::writeArrays("t_bad_ck.h5", {{"next_step", {1}, {step}}}, {{"run", attrs["run"]}});
    CHECK(train({"--steps", "2", "--resume", "t_bad_ck.h5"}, &text) == 2);
    CHECK(text.find("checkpoint 't_bad_ck.h5': 'next_step' is " + shown + ", not a step count") != std::string::npos);
  }
  // NaN pixels: the loss stops being a number, and training stops saying so (exit 1).
  std::vector<double> nan(64 * 784, std::nan(""));
  runtime::writeArrays("t_nan.h5", {{"train_images", {64, 784}, nan}, {"train_labels", {64}, std::vector<double>(64, 1.0)},
                                    {"test_images", {64, 784}, images}, {"test_labels", {64}, std::vector<double>(64, 0.0)}}, {});
  CHECK(train({"--data", "t_nan.h5", "--steps", "1"}, &text) == 1);
  CHECK(text.find("step 0: the loss is nan (not a finite number)") != std::string::npos);
  CHECK(train({"--lr", "nan"}, &text) == 2);
  CHECK(text.find("--lr nan: expected a finite positive number") != std::string::npos);
  for (const char* f : {"t_labels.h5", "t_bad_ck.h5", "t_key.h5", "t_nan.h5"}) std::remove(f);
}

TEST_CASE("training data from an HDF5 file, bad data files are refused by name") {
  // A toy task: class = whether the first pixel is bright; 784 pixels per example.
  std::vector<double> trainImages(512 * 784, 0.0), testImages(500 * 784, 0.0), trainLabels(512), testLabels(500);
  for (int i = 0; i < 512; ++i) trainImages[std::size_t(i * 784)] = (i % 2) ? 1.0 : 0.0, trainLabels[std::size_t(i)] = i % 2;
  for (int i = 0; i < 500; ++i) testImages[std::size_t(i * 784)] = (i % 2) ? 1.0 : 0.0, testLabels[std::size_t(i)] = i % 2;
  runtime::writeArrays("t_data.h5",
                       {{"train_images", {512, 784}, trainImages}, {"train_labels", {512}, trainLabels},
                        {"test_images", {500, 784}, testImages}, {"test_labels", {500}, testLabels}},
                       {});
  std::string text;
  CHECK(train({"--data", "t_data.h5", "--epochs", "3", "--lr", "0.5", "--json"}, &text) == 0);
  INFO(text);
  CHECK(text.find("\"test_accuracy\": 1.0") != std::string::npos);
  runtime::writeArrays("t_bad.h5", {{"train_images", {4, 784}, std::vector<double>(4 * 784, 0.0)}}, {});
  CHECK(train({"--data", "t_bad.h5"}, &text) == 2);
  CHECK(text.find("needs datasets 'train_images' [N, ...] and 'train_labels' [N]") != std::string::npos);
  std::remove("t_data.h5");
  std::remove("t_bad.h5");
}

TEST_CASE("in FP32, training on the emulator follows the host oracle on the same batches") {
  std::string text;
  REQUIRE(train({"--steps", "15", "--precision", "fp32", "--oracle", "--json"}, &text) == 0);
  const auto at = text.find("\"relative_difference\": ");
  REQUIRE(at != std::string::npos);
  const double diff = std::stod(text.substr(at + 23));
  INFO(text);
  CHECK(diff < 0.01);
}

TEST_CASE("a timing-only training step costs exactly the cycles of the full step") {
  const auto cyclesPerStep = [](std::vector<std::string> extra) {
    std::vector<std::string> args = {"--steps", "2", "--slice", "2x2", "--batch", "32", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string out;
    REQUIRE(train(args, &out) == 0);
    const auto j = nlohmann::json::parse(out.substr(out.find('{'), out.rfind('}') - out.find('{') + 1));
    return j.at("cycles_per_step").get<double>();
  };
  const double full = cyclesPerStep({}), timing = cyclesPerStep({"--timing-only"});
  CHECK(full > 0);
  CHECK(timing == full);
}

TEST_CASE("an interrupted run ends with no test accuracy, not 0, in its summary and its file") {
  driver::TrainRequest request;
  request.step.model = TATAMI_SOURCE_DIR "/examples/fashion_mnist/mlp.onnx";
  request.step.batch = 16;
  request.steps = 5;
  driver::Trainer trainer(request, ArchConfig{});
  std::atomic<bool> stop{false};
  driver::TrainLoopOptions loop;
  loop.stop = &stop;
  loop.onStep = [&](const driver::StepRecord&) { stop = true; };  // as if Ctrl-C came during the first step
  loop.output = "t_stopped.h5";
  const driver::TrainSummary s = trainer.run(loop);
  CHECK(s.stopped);
  CHECK(s.steps == 1);
  CHECK(std::isnan(s.accuracy));
  std::map<std::string, std::string> attrs;
  runtime::readArrays("t_stopped.h5", &attrs);
  const auto summary = nlohmann::json::parse(attrs.at("summary"));
  CHECK(summary["steps"] == 1);
  CHECK(summary["test_accuracy"].is_null());
  std::remove("t_stopped.h5");
}
