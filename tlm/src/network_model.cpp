// Remote transfers between cores over the mesh (docs/timing.md, "Network"; docs/isa.md, "Remote memory").
#include "tatami/tlm/network_model.h"

#include <algorithm>

namespace tatami::tlm {

namespace {

/// Requests and signals are small: one packet of this many bytes.
constexpr std::uint64_t kControlBytes = 8;

}  // namespace

NetworkModel::NetworkModel(const sc_core::sc_module_name& name, const ArchConfig& config)
    : sc_core::sc_module(name),
      fromCores("fromCores"),
      sram("sram"),
      signals("signals"),
      config_(config),
      sramBytes_(std::uint64_t(config.core.sram_kib) * 1024),
      threads_(int(config.core.threads)) {
  fromCores.register_b_transport(this, &NetworkModel::b_transport);
  SC_HAS_PROCESS(NetworkModel);
  SC_METHOD(processBatch);
  sensitive << batchReady_;
  dont_initialize();
}

void NetworkModel::b_transport(int, ::tlm::tlm_generic_payload& p, sc_core::sc_time&) {
  RemoteTransfer* r = nullptr;
  p.get_extension(r);
  if (!r) {
    p.set_response_status(::tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  batch_.push_back(r);
  batchReady_.notify(sc_core::SC_ZERO_TIME);
  wait(batchDone_);
  p.set_response_status(r->error.empty() ? ::tlm::TLM_OK_RESPONSE : ::tlm::TLM_GENERIC_ERROR_RESPONSE);
}

void NetworkModel::processBatch() {
  std::vector<RemoteTransfer*> batch;
  batch.swap(batch_);
  std::sort(batch.begin(), batch.end(), [](const RemoteTransfer* a, const RemoteTransfer* b) {
    if (a->issueCycle != b->issueCycle) return a->issueCycle < b->issueCycle;
    if (a->srcCore != b->srcCore) return a->srcCore < b->srcCore;
    return a->seq < b->seq;
  });
  for (RemoteTransfer* r : batch) handle(*r);
  batchDone_.notify(sc_core::SC_ZERO_TIME);
}

Network& NetworkModel::network() {
  if (!net_) net_ = std::make_unique<Network>(config_);
  return *net_;
}

CoreState& NetworkModel::passiveCore(int core) {
  auto& p = passive_[core];
  if (!p) {
    p = std::make_unique<CoreState>(sramBytes_, threads_);
    p->coreId = std::uint64_t(core);
    p->coreCount = std::uint64_t(network().nodeCount());
  }
  return *p;
}

bool NetworkModel::copy(int fromCore, std::uint64_t fromAddr, int toCore, std::uint64_t toAddr, std::uint64_t bytes,
                        std::string& error) {
  std::vector<std::uint8_t> buf(bytes);
  const auto access = [&](int core, ::tlm::tlm_command cmd, std::uint64_t addr) {
    if (!binding_.count(core)) {
      CoreState& c = passiveCore(core);
      if (!c.sram.contains(addr, bytes)) return false;
      if (cmd == ::tlm::TLM_READ_COMMAND) c.sram.read(addr, buf.data(), bytes);
      else c.sram.write(addr, buf.data(), bytes);
      return true;
    }
    ::tlm::tlm_generic_payload p;
    p.set_command(cmd);
    p.set_address(addr);
    p.set_data_ptr(buf.data());
    p.set_data_length(unsigned(bytes));
    return sram[std::size_t(binding_.at(core))]->transport_dbg(p) == bytes;
  };
  if (bytes == 0) return true;
  if (!access(fromCore, ::tlm::TLM_READ_COMMAND, fromAddr)) {
    error = "source range [" + std::to_string(fromAddr) + ", " + std::to_string(fromAddr + bytes) +
            ") is outside the SRAM of core " + std::to_string(fromCore);
    return false;
  }
  if (!access(toCore, ::tlm::TLM_WRITE_COMMAND, toAddr)) {
    error = "destination range [" + std::to_string(toAddr) + ", " + std::to_string(toAddr + bytes) +
            ") is outside the SRAM of core " + std::to_string(toCore);
    return false;
  }
  return true;
}

void NetworkModel::signal(int core, std::uint64_t cycle, int semaphore, std::int64_t count) {
  if (!binding_.count(core)) {
    passiveCore(core).sem[std::size_t(semaphore)] += count;  // nobody waits on a core with no program
    return;
  }
  ::tlm::tlm_generic_payload p;
  SignalDelivery s;
  s.cycle = cycle, s.semaphore = semaphore, s.count = count;
  p.set_extension(&s);
  sc_core::sc_time zero = sc_core::SC_ZERO_TIME;
  signals[std::size_t(binding_.at(core))]->b_transport(p, zero);
  p.clear_extension(&s);
}

void NetworkModel::handle(RemoteTransfer& r) {
  if (r.dstCore < 0 || r.dstCore >= network().nodeCount() || !network().isActive(r.dstCore)) {
    r.error = "core " + std::to_string(r.dstCore) + " is not an active core of this system (" +
              std::to_string(network().activeNodes().size()) + " active cores, ids 0.." + std::to_string(network().nodeCount() - 1) + ")";
    return;
  }
  try {
    const auto key = std::make_pair(r.srcCore, r.dstCore);
    switch (r.kind) {
      case RemoteTransfer::Kind::Put: {
        if (!copy(r.srcCore, r.localAddr, r.dstCore, r.remoteAddr, r.bytes, r.error)) return;
        const Delivery d = network().send(r.issueCycle, r.srcCore, r.dstCore, r.bytes, TrafficClass::Request);
        std::uint64_t& last = lastArrival_[key];
        last = std::max(last, d.arrivalCycle);
        r.localDoneCycle = d.injectedCycle;
        if (r.semaphore >= 0) signal(r.dstCore, d.arrivalCycle, r.semaphore, 1);
        break;
      }
      case RemoteTransfer::Kind::Get: {
        if (!copy(r.dstCore, r.remoteAddr, r.srcCore, r.localAddr, r.bytes, r.error)) return;
        const Delivery req = network().send(r.issueCycle, r.srcCore, r.dstCore, kControlBytes, TrafficClass::Request);
        const Delivery data = network().send(req.arrivalCycle, r.dstCore, r.srcCore, r.bytes, TrafficClass::Response);
        r.localDoneCycle = data.arrivalCycle;
        if (r.semaphore >= 0) signal(r.srcCore, data.arrivalCycle, r.semaphore, 1);
        break;
      }
      case RemoteTransfer::Kind::Signal: {
        const Delivery d = network().send(r.issueCycle, r.srcCore, r.dstCore, kControlBytes, TrafficClass::Request);
        // A signal never overtakes the data sent before it from the same core to the same core.
        std::uint64_t& last = lastArrival_[key];
        last = std::max(last, d.arrivalCycle);
        r.localDoneCycle = d.injectedCycle;
        signal(r.dstCore, last, r.semaphore, r.count);
        break;
      }
    }
  } catch (const NetworkError& e) {
    r.error = e.what();
  }
}

}  // namespace tatami::tlm
