// Automatic placement: the candidates weighed by the cost model and the rule that picks one.
#include <doctest/doctest.h>

#include "tatami/arch/config.h"
#include "tatami/arch/config_files.h"
#include "tatami/driver/job.h"

using namespace tatami::driver;

namespace {

PlacementCandidate candidate(const std::string& slice, const std::string& grid, std::int64_t cores, double estimate) {
  PlacementCandidate c;
  c.slice = slice, c.grid = grid, c.cores = cores, c.estimate = estimate;
  if (estimate == 0) c.why = "SRAM: too small";
  return c;
}

}  // namespace

TEST_CASE("choosePlacement: the fewest cores within the gain of the fastest, none when nothing fits") {
  // The fastest wins when the others are more than 10% slower.
  CHECK(choosePlacement({candidate("", "", 1, 50000), candidate("2x2", "", 4, 42000), candidate("", "4x4", 16, 11925)}) == 2);
  // Within 10% of the fastest on fewer cores: the smaller placement (more cores do not pay).
  CHECK(choosePlacement({candidate("", "", 1, 10500), candidate("2x2", "", 4, 10000)}) == 0);
  CHECK(choosePlacement({candidate("", "", 1, 11100), candidate("2x2", "", 4, 10000)}) == 1);
  // What does not fit is never chosen; nothing fitting gives -1.
  CHECK(choosePlacement({candidate("", "", 1, 0), candidate("1x2", "", 2, 0), candidate("2x2", "", 4, 300000)}) == 2);
  CHECK(choosePlacement({candidate("", "", 1, 0), candidate("", "2x2", 4, 0)}) == -1);
  // Equal cores: the faster.
  CHECK(choosePlacement({candidate("2x2", "", 4, 9000), candidate("", "2x2", 4, 8500)}) == 1);
  CHECK(candidate("", "", 1, 1).name() == "one core");
  CHECK(candidate("2x4", "", 8, 1).name() == "data parallel over a 2x4 slice");
  CHECK(candidate("", "4x4", 16, 1).name() == "tensor parallel over a 4x4 grid");
}

TEST_CASE("weighPlacements: the MLP at batch 64 on the D1 preset, every candidate estimated or refused with a reason") {
  CompileRequest r;
  r.model = std::string(TATAMI_SOURCE_DIR) + "/examples/fashion_mnist/mlp.onnx";
  const tatami::ArchConfig config;  // the D1 preset
  const auto g = compileModel(r, nullptr);
  const auto all = weighPlacements(r, config, g);
  REQUIRE(all.size() >= 3);
  CHECK(all.front().name() == "one core");
  CHECK(all.front().estimate > 0);
  bool slices = false, grids = false;
  for (const auto& c : all) {
    CHECK((c.estimate > 0) != !c.why.empty());
    CHECK(c.cores <= r.batch);
    slices = slices || !c.slice.empty();
    grids = grids || !c.grid.empty();
  }
  CHECK(slices);
  CHECK(grids);
  // The same request weighs the same way (the search is deterministic).
  const auto again = weighPlacements(r, config, g);
  REQUIRE(again.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(again[i].estimate == all[i].estimate);
  // With a batch of 1 no slice is weighed (a core needs an example).
  r.batch = 1;
  for (const auto& c : weighPlacements(r, config, compileModel(r, nullptr))) CHECK(c.slice.empty());
}

TEST_CASE("weighPlacements: on a system of several dies, data parallel over whole dies when the batch gives each core an example") {
  CompileRequest r;
  r.model = std::string(TATAMI_SOURCE_DIR) + "/examples/fashion_mnist/cnn.onnx";
  const tatami::ArchConfig config = tatami::resolveConfig(std::string(TATAMI_SOURCE_DIR) + "/configs/mesh2x2_tile2x2.ini", {});
  r.batch = 16;  // one example on each of the system's 16 cores
  const auto all = weighPlacements(r, config, compileModel(r, nullptr));
  std::vector<std::string> names;
  std::vector<std::string> grids;
  for (const auto& c : all)
    if (c.dies > 1) {
      (c.grid.empty() ? names : grids).push_back(c.name());
      CHECK(c.estimate > 0);
    }
  // Rectangles of dies that double, the whole system (2x2 dies of 2x2 cores) last; a grid on each
  // die fits too (its pooling runs on chunks of planes).
  REQUIRE(names.size() == 2);
  CHECK(grids == std::vector<std::string>{"tensor parallel over a 2x2 grid on each of 2 dies", "tensor parallel over a 2x2 grid on each of 4 dies"});
  CHECK(names[0] == "data parallel over 2 dies (a 2x4 slice, 8 cores)");
  CHECK(names[1] == "data parallel over 4 dies (a 4x4 slice, 16 cores)");
  // The CNN's per-example work dominates its all-reduce: the whole system wins.
  const auto won = all[std::size_t(choosePlacement(all))];
  CHECK(won.slice == "4x4");
  CHECK(won.cores == 16);
  // A batch smaller than the system's cores: no data-parallel slice beyond the cores it can fill
  // (a grid splits channels too, so it may use more cores than examples).
  r.batch = 8;
  for (const auto& c : weighPlacements(r, config, compileModel(r, nullptr)))
    if (c.grid.empty()) CHECK(c.cores <= 8);
}
