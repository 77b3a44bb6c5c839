// Every command's --json output is one JSON document alone on stdout (progress and notes go to
// stderr), with the figures a script reads from it.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tatami/tools/cli.h"

using namespace tatami;

namespace {

/// Runs `tatami ARGS`, requires exit 0, and parses its stdout as JSON (a parse error fails).
nlohmann::json jsonOf(std::vector<std::string> args) {
  args.insert(args.begin(), "tatami");
  std::ostringstream out, err;
  const int rc = cli::run(args, out, err);
  INFO("stderr: ", err.str());
  REQUIRE(rc == 0);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(out.str()));
  return j;
}

}  // namespace

TEST_CASE("--json: stdout is one JSON document for run, check, train, traffic and info") {
  const auto run = jsonOf({"run", TATAMI_SOURCE_DIR "/examples/gemm/gemm.tasm", "--json", "--timing-only"});
  // A program without a graph: its issued FLOPs are its useful ones.
  CHECK(run.at("useful_from") == "program");
  CHECK(run.at("useful_matrix_flops") == run.at("issued_matrix_flops"));
  CHECK(run.at("matrix_utilization").get<double>() == doctest::Approx(run.at("issued_utilization").get<double>()));

  const auto check = jsonOf({"check", TATAMI_SOURCE_DIR "/tests/cli/fixtures/tiny_mlp.tir", "--loss", "xent", "--json"});
  CHECK(check.at("useful_matrix_flops") == 480);
  CHECK(check.at("issued_matrix_flops") == 10240);
  CHECK(check.at("matrix_utilization").get<double>() < check.at("issued_utilization").get<double>());

  const auto train = jsonOf({"train", TATAMI_SOURCE_DIR "/examples/fashion_mnist/mlp.onnx", "--steps", "2", "--timing-only", "--json"});
  CHECK(train.at("steps") == 2);
  CHECK(train.at("useful_matrix_flops_per_step").get<double>() > 0);
  CHECK(train.at("matrix_utilization").get<double>() <= train.at("issued_utilization").get<double>());

  const auto traffic = jsonOf({"traffic", "--json"});  // one row per point of the series
  REQUIRE(traffic.is_array());
  CHECK(traffic.at(0).at("accepted_rate").get<double>() > 0);
  const auto info = jsonOf({"info", "--json"});
  CHECK(info.at("active_cores_per_die") == 354);
}
