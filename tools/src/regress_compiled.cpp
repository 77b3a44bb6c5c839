// Compiled-model regression cases: compile.ini -> bundle -> one step from seeded inputs -> metrics.
#include "regress_compiled.h"

#include <cstring>
#include <fstream>

#include "command.h"
#include "step_options.h"
#include "run_report.h"
#include "tatami/driver/job.h"
#include "tatami/runtime/bundle.h"

namespace tatami::cli {

namespace {

struct CaseSpec {
  driver::CompileRequest request;
  std::uint64_t seed = 1;
};

/// `key = value` lines; `#` starts a comment. Paths are relative to the repository root (the
/// directory `tatami regress` runs in).
CaseSpec readSpec(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw InputError("cannot read '" + path + "'");
  CaseSpec c;
  std::string line;
  int number = 0;
  while (std::getline(f, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    line = line.substr(0, line.find('#'));
    const auto eq = line.find('=');
    const auto trim = [](std::string s) {
      const auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    if (trim(line).empty()) continue;
    if (eq == std::string::npos) throw InputError(where + "expected 'key = value'");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (setStepKey(c.request, key, value, where)) continue;
    if (key != "seed")
      throw InputError(where + "unknown key '" + key + "' (model, batch, loss, optimizer, lr, momentum, weight_decay, precision, slice, grid, replicas, seed)");
    try {
      c.seed = std::stoull(value);
    } catch (const std::logic_error&) {
      throw InputError(where + "'seed' = '" + value + "' is not a number");
    }
  }
  if (c.request.model.empty()) throw InputError(path + ": no model given");
  return c;
}

std::string hashOf(const std::vector<double>& values) {
  std::vector<std::uint8_t> bytes(values.size() * 4);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float f = float(values[i]);
    std::memcpy(bytes.data() + 4 * i, &f, 4);
  }
  return hashText(runtime::fnv1a(bytes));
}

}  // namespace

nlohmann::ordered_json runCompiledCase(const std::string& specPath, const ArchConfig& config, bool timingOnly) {
  const CaseSpec spec = readSpec(specPath);
  const driver::CompiledJob job = driver::compileJob(spec.request, config);
  std::vector<runtime::NamedArray> feeds;
  for (const auto& [name, t] : driver::seededInputs(job.step, spec.request.loss, spec.seed))
    feeds.push_back({name, std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()), t.data});
  runtime::RunOptions options;
  options.timingOnly = timingOnly;
  const runtime::BundleRun run = runtime::runBundle(config, job.bundle, feeds, options);
  if (!run.run.error.empty()) throw std::runtime_error("the compiled step failed: " + run.run.error);
  nlohmann::ordered_json m = regressionMetrics(run.run);
  m["cores"] = job.bundle.programs.size();
  m["sram_peak_bytes"] = job.sramPeakBytes;
  // Every output tensor, put together from its pieces: a hash of its FP32 values.
  for (const auto& out : run.outputs) m["output " + out.name] = hashOf(out.data);
  return m;
}

}  // namespace tatami::cli
