// Builds the system of cores and mesh and binds their sockets.
#include "tatami/tlm/system.h"

#include <string>

namespace tatami::tlm {

System::System(const ArchConfig& config, const std::map<int, const Program*>& programs, const CoreOptions& options,
               std::optional<std::uint64_t> remoteSemaphoresKnown) {
  network_ = std::make_unique<NetworkModel>("mesh", config);
  network_->setMovesValues(!options.timingOnly);
  const int cols = int(config.die.cols * config.system.die_cols);
  const int positions = int(config.die.rows * config.system.die_rows) * cols;
  int binding = 0;
  for (const auto& [id, programPtr] : programs) {
    const Program& program = *programPtr;
    // sim.rtl_cores: which cores run the RTL datapath.
    CoreOptions coreOptions = options;
    coreOptions.rtl = config.sim.rtl_cores == "all";
    if (config.sim.rtl_cores == "listed")
      for (const GridPos& p : config.sim.rtl_listed) coreOptions.rtl = coreOptions.rtl || (p.row * cols + p.col == id);
    if (coreOptions.rtl && !options.rtlWaves.empty()) coreOptions.rtlWaves = options.rtlWaves + ".core" + std::to_string(id);
    else coreOptions.rtlWaves.clear();
    auto core = std::make_unique<CoreModel>(("core_" + std::to_string(id / cols) + "_" + std::to_string(id % cols)).c_str(),
                                            config, program, coreOptions, id, positions);
    core->toNetwork.bind(network_->fromCores);
    network_->sram.bind(core->debugSocket);
    network_->signals.bind(core->fromNetwork);
    network_->mapCore(id, binding++);
    cores_[id] = std::move(core);
  }
  std::uint64_t remote = 0;
  if (remoteSemaphoresKnown) {
    remote = *remoteSemaphoresKnown;
  } else {
    std::vector<const Program*> all;
    for (const auto& [id, programPtr] : programs) all.push_back(programPtr);
    remote = remoteSemaphores(all);
  }
  for (auto& [id, core] : cores_) core->setRemoteSemaphores(remote);
}

}  // namespace tatami::tlm
