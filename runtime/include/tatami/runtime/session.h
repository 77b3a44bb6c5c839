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
  /// put together. Replicated output pieces must hold the same bits (else RunResult::error). A
  /// step input read from HBM (a staged piece) is written both to HBM and to its SRAM copy, as a
  /// step in a row of them finds it.
  BundleRun run(const std::vector<NamedArray>& feeds, RunOptions options = {}) const;

  /// The tensors carried from step to step (every tensor whose purpose is parameter or state),
  /// FP32 values as doubles, read from the machine's copies: between steps they stay where the
  /// step left them (SRAM, or HBM when streamed), as bytes, and the host reads them only here
  /// (checkpoints, evaluation, the end of a run; counted in carriedReads).
  std::map<std::string, std::vector<double>> carried() const;
  /// Writes a carried tensor's values (FP32) to every piece of it on the machine: the parameters'
  /// initial values before the first step, or a checkpoint's. Throws BundleError for a name that
  /// is not carried or a wrong count.
  void setCarried(const std::string& name, const std::vector<double>& values);
  void setCarried(const std::map<std::string, std::vector<double>>& all);
  std::size_t carriedReads() const { return carriedReads_; }

  struct Step {
    BundleRun result;  ///< its outputs: the loss and metrics (the updates stay on the machine)
    double loss = std::numeric_limits<double>::quiet_NaN();  ///< the loss output; NaN without one or timing only
    /// When the next batch's last byte reached HBM over the host link, in cycles after this step
    /// began (0: it was there when the step began, or no next batch or host-link limit).
    std::uint64_t nextBatchArrival = 0;
  };
  /// One training step: `feeds` (the batch, the target) and the carried tensors in; each carried
  /// tensor replaced by the output that is its update, on the machine. `next`: the next step's
  /// feeds, which this step reads from HBM while it runs (inputs with staged pieces); the next
  /// step then starts from what this one read (and throws BundleError if it is fed otherwise).
  /// Without `next` the HBM holds `feeds` again. A failed or timing-only run changes no tensor.
  ///
  /// The host writes each batch into the DIPs' HBM over their host links (dip.host_gb_per_s),
  /// double-buffered: batch k starts on its way when batch k-1 is in and batch k-2's buffer is
  /// free (read by step k-3), and a step's read of its next batch waits for the bytes it reads.
  /// The first two batches are there before the first step (as the weights are). Every step that
  /// runs, timing-only ones included, moves this timeline on by its cycles.
  Step step(const std::vector<NamedArray>& feeds, const RunOptions& options = {}, const std::vector<NamedArray>* next = nullptr);

  /// A new stream of batches (an evaluation pass): the next step finds its batch as fed, and the
  /// host link starts afresh (the stream's first two batches in place, as before the first step).
  void restartBatches() {
    staged_.clear();
    host_ = HostLink{};
  }

  /// The host link's timeline, in cycles since the first step began: the steps run so far, when
  /// the last one ended and the one before it, and when the last batch sent was in HBM. A
  /// checkpoint keeps it, so that a resumed run's batches arrive when an uninterrupted run's do.
  struct HostLink {
    std::int64_t steps = 0;
    std::uint64_t lastEnd = 0, endBefore = 0, lastArrival = 0;
  };
  const HostLink& hostLink() const { return host_; }
  void resumeHostLink(const HostLink& link) { host_ = link; }

  /// The first tensor with this purpose (batch, target, loss, ...), or nullptr.
  const BundleTensor* withPurpose(const std::string& purpose) const;

 private:
  /// The programs with every fed block placed (SRAM images per core, HBM ones in `options`);
  /// staged pieces' HBM copies from `next` when given.
  std::vector<CoreProgram> place(const std::vector<NamedArray>& feeds, const std::vector<NamedArray>* next, RunOptions& options) const;
  ArchConfig config_;
  Bundle bundle_;
  std::uint64_t remoteSemaphores_ = 0;  ///< what tlm::remoteSemaphores finds in the bundle's programs
  /// One piece of a carried tensor as the machine holds it (FP32 bytes of its block).
  struct Resident {
    int core = 0;
    std::uint64_t addr = 0;
    bool hbm = false;
    std::vector<std::uint8_t> bytes;
  };
  std::map<std::string, std::vector<Resident>> resident_;  ///< by tensor, one per piece
  /// The SRAM copies of the step inputs that the last step read from HBM (per core, its image).
  std::vector<std::pair<int, SramImage>> staged_;
  mutable std::size_t carriedReads_ = 0;
  HostLink host_;
  /// The next batch's arrivals (RunOptions::hbmArrivals) for this step; its last one, relative to
  /// the step's start, is the step's nextBatchArrival.
  std::uint64_t scheduleNextBatch(RunOptions& options);
};

}  // namespace tatami::runtime
