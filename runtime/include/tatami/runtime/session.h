// A bundle loaded once and run step after step. The session is the one place that scatters full
// tensors into the blocks the cores hold, runs the programs and gathers the outputs back. Between
// training steps it keeps the tensors a step carries (the parameters and the optimizer state, by
// the bundle's purposes) and replaces each with its update.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/arch/program.h"
#include "tatami/runtime/bundle.h"

namespace tatami::runtime {

class Session {
 public:
  /// The carried tensors start at zero.
  Session(const ArchConfig& config, Bundle bundle);

  const Bundle& bundle() const { return bundle_; }
  const ArchConfig& config() const { return config_; }

  /// One run: each fed tensor's blocks written to the cores that hold them (a name the bundle does
  /// not know, an output, or a wrong shape throws BundleError), every program run, and the outputs
  /// put together. Replicated output pieces must hold the same bits (else RunResult::error).
  BundleRun run(const std::vector<NamedArray>& feeds, RunOptions options = {}) const;

  /// The tensors carried from step to step, by name: every tensor whose purpose is parameter or
  /// state, FP32 values as doubles. Set the parameters' initial values here before the first step.
  std::map<std::string, std::vector<double>>& carried() { return carried_; }
  const std::map<std::string, std::vector<double>>& carried() const { return carried_; }

  struct Step {
    BundleRun result;
    double loss = std::numeric_limits<double>::quiet_NaN();  ///< the loss output; NaN without one or timing only
  };
  /// One training step: `feeds` (the batch, the target) and the carried tensors in; each carried
  /// tensor replaced by the output that is its update. A failed or timing-only run changes nothing.
  Step step(const std::vector<NamedArray>& feeds, const RunOptions& options = {});

  /// The first tensor with this purpose (batch, target, loss, ...), or nullptr.
  const BundleTensor* withPurpose(const std::string& purpose) const;

 private:
  ArchConfig config_;
  Bundle bundle_;
  std::map<std::string, std::vector<double>> carried_;
};

}  // namespace tatami::runtime
