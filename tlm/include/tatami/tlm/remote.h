// What crosses the TLM-2.0 seam between a core and the mesh: a remote transfer request (with its
// timing result) and a semaphore signal delivered to a core. Both ride as extensions on a generic
// payload, so either side can be replaced by another model that speaks them.
#pragma once

#include <cstdint>
#include <string>
#include <tlm>

namespace tatami::tlm {

/// A core asks the network for a put, get or remote semaphore increment, at `issueCycle`.
struct RemoteTransfer : ::tlm::tlm_extension<RemoteTransfer> {
  enum class Kind : std::uint8_t { Put, Get, Signal, HbmRead, HbmWrite };
  Kind kind = Kind::Put;
  int srcCore = 0, dstCore = 0;      ///< initiator and the other core
  std::uint64_t localAddr = 0;       ///< put: source in the initiator's SRAM; get: destination there
  std::uint64_t remoteAddr = 0;      ///< put: destination in dstCore's SRAM; get: source there; HBM: address
  std::uint64_t bytes = 0;
  int semaphore = -1;                ///< put: on dstCore; get and HBM: on srcCore; signal: on dstCore
  std::int64_t count = 1;            ///< signal: the increment
  std::uint64_t issueCycle = 0;
  std::uint64_t seq = 0;             ///< per initiator, for a deterministic order within a cycle
  // Results
  std::uint64_t localDoneCycle = 0;  ///< put: source data has left; get: data is in local SRAM
  std::string error;                 ///< non-empty: the transfer could not be made

  ::tlm::tlm_extension_base* clone() const override { return new RemoteTransfer(*this); }
  void copy_from(const ::tlm::tlm_extension_base& other) override {
    *this = static_cast<const RemoteTransfer&>(other);
  }
};

/// The network tells a core that its semaphore `semaphore` grows by `count` at `cycle`.
struct SignalDelivery : ::tlm::tlm_extension<SignalDelivery> {
  std::uint64_t cycle = 0;
  int semaphore = 0;
  std::int64_t count = 1;
  /// What the signal ends, for the step's breakdown: the transfer was issued at `sentCycle` by or
  /// to `otherCore` (the core at the far end of it), or was an HBM transfer (`hbm`).
  int otherCore = -1;
  std::uint64_t sentCycle = 0;
  bool hbm = false;
  ::tlm::tlm_extension_base* clone() const override { return new SignalDelivery(*this); }
  void copy_from(const ::tlm::tlm_extension_base& other) override { *this = static_cast<const SignalDelivery&>(other); }
};

}  // namespace tatami::tlm
