// The modelled system: a core model for every core that runs a program, and the mesh that joins
// every position of every die, wired through TLM-2.0 sockets. The other active cores exist as
// SRAM and semaphores inside the mesh model (NetworkModel::passiveCore), which other cores reach.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/arch/program.h"
#include "tatami/tlm/core.h"
#include "tatami/tlm/network_model.h"

namespace tatami::tlm {

class System {
 public:
  /// `programs` maps core ids (active positions) to programs; `remoteSemaphores`, when given, is
  /// what remoteSemaphores() finds in them (a caller that runs the same programs again keeps it).
  System(const ArchConfig& config, const std::map<int, const Program*>& programs, const CoreOptions& options,
         std::optional<std::uint64_t> remoteSemaphores = std::nullopt);
  CoreModel& core(int id) { return *cores_.at(id); }
  bool hasCore(int id) const { return cores_.count(id) > 0; }
  NetworkModel& network() { return *network_; }
  const std::map<int, std::unique_ptr<CoreModel>>& cores() const { return cores_; }

 private:
  std::unique_ptr<NetworkModel> network_;
  std::map<int, std::unique_ptr<CoreModel>> cores_;
};

}  // namespace tatami::tlm
