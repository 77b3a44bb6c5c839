// The run file of `tatami train` (HDF5, docs/results.md): a checkpoint to resume from, and the
// record of a finished run. One schema for both:
//   next_step [1]; loss [steps]; cycles [steps]; epoch_accuracy [epochs]
//   weights/NAME (parameters, for readers), state/NAME (every carried tensor, to resume)
//   stats/core_K/{unit_busy_cycles [5], stall_cycles [5], cycles [1]}; stats/link_{packets,bytes,busy_cycles}
//   host/seconds [1]: the host time the run took, the one figure two identical runs differ in
//   attributes: run (what identifies the run), step (the compiled step's request, JSON), config (INI),
//   summary (JSON), stats_units, stats_link_names
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/runtime/run.h"

namespace tatami::driver {

/// A data or run file that cannot be used: the message names the file and the problem.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where a training run stands: what it has done and what it carries into the next step.
struct TrainState {
  std::int64_t nextStep = 0;
  std::vector<double> loss, cycles, epochAccuracy;         ///< per step, per step, per epoch
  std::vector<double> epochEvalCycles;                     ///< per epoch: the evaluation's cycles on the machine (0: on the host)
  /// The host link's timeline after the last step (runtime::Session::HostLink: steps, lastEnd,
  /// endBefore, lastArrival); empty in a checkpoint written before it was kept.
  std::vector<double> hostLink;
  /// Per step, the breakdown (runtime/breakdown.h): per die, the mean cycles per core in each of
  /// the kBreakdownColumns columns ([steps][dies][columns], flattened), and the critical path's
  /// cycles by column ([steps][columns]). breakdownDies names the dies.
  std::vector<double> stepBreakdown, stepCriticalPath;
  std::vector<std::string> breakdownDies;
  std::vector<double> breakdownDieCores;  ///< the cores of each die in the breakdown
  std::map<std::string, std::vector<double>> carried;      ///< parameters and optimizer state
  std::set<std::string> parameters;                        ///< which carried tensors are weights
};

struct RunFileSummary {
  std::string runKey;    ///< what identifies the run (a checkpoint resumes only the same one)
  std::string configIni;
  std::string summaryJson;  ///< simulated figures only (host time apart, in hostSeconds)
  std::string stepJson;     ///< the step's CompileRequest (requestToJson), to compile it again
  double hostSeconds = 0;
  const runtime::RunResult* lastStep = nullptr;  ///< its statistics are written when given
};

/// Writes the run file (replacing it; never half written). Throws std::runtime_error.
void writeRunFile(const std::string& path, const TrainState& state, const RunFileSummary& about);

/// Reads a checkpoint into `state`: the histories and every carried tensor it names. Throws
/// DataError when the file is unreadable, of another run (its key differs from `runKey`), or
/// holds a tensor that is not carried or has another size.
void readRunFile(const std::string& path, const std::string& runKey, TrainState& state);

}  // namespace tatami::driver
