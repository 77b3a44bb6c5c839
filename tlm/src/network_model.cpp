// Remote transfers between cores over the mesh (docs/timing.md, "Network"; docs/isa.md, "Remote memory").
#include "tatami/tlm/network_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

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
  Network& net = network();
  std::sort(batch.begin(), batch.end(), [&net](const RemoteTransfer* a, const RemoteTransfer* b) {
    if (a->issueCycle != b->issueCycle) return a->issueCycle < b->issueCycle;
    const std::uint64_t ka = net.arbitrationKey(a->issueCycle, a->srcCore), kb = net.arbitrationKey(b->issueCycle, b->srcCore);
    if (ka != kb) return ka < kb;
    return a->seq < b->seq;
  });
  for (RemoteTransfer* r : batch) handle(*r);
  batchDone_.notify(sc_core::SC_ZERO_TIME);
}

Network& NetworkModel::network() {
  if (!net_) net_ = std::make_unique<Network>(config_);
  return *net_;
}

std::vector<NetworkModel::Dip>& NetworkModel::dips() {
  if (dipsBuilt_) return dips_;
  dipsBuilt_ = true;
  // Each whole tile gets dip.per_tile DIPs on its west edge, evenly spaced over its rows.
  const ArchConfig& c = config_;
  const std::int64_t tileRows = c.tile.die_rows * c.die.rows, tileCols = c.tile.die_cols * c.die.cols;
  const std::int64_t tilesDown = c.system.die_rows / c.tile.die_rows, tilesAcross = c.system.die_cols / c.tile.die_cols;
  if (tilesDown * tilesAcross == 0) {  // smaller than a tile: its edge sources, on its west edge
    const std::int64_t rows = c.system.die_rows * c.die.rows;
    for (std::int64_t k = 0; k < c.dip.edge_sources; ++k) {
      Dip d;
      d.node = network().node(int((2 * k + 1) * rows / (2 * c.dip.edge_sources)), 0);
      d.wholeEdge = true;
      dips_.push_back(std::move(d));
    }
    return dips_;
  }
  for (std::int64_t tr = 0; tr < tilesDown; ++tr)
    for (std::int64_t tc = 0; tc < tilesAcross; ++tc)
      for (std::int64_t k = 0; k < c.dip.per_tile; ++k) {
        Dip d;
        const std::int64_t row = tr * tileRows + (2 * k + 1) * tileRows / (2 * c.dip.per_tile);
        d.node = network().node(int(row), int(tc * tileCols));
        dips_.push_back(std::move(d));
      }
  return dips_;
}

void NetworkModel::hbmAccess(Dip& dip, std::uint64_t addr, std::uint8_t* data, std::uint64_t bytes, bool write) {
  constexpr std::uint64_t kPage = 4096;
  while (bytes) {
    const std::uint64_t page = addr / kPage, off = addr % kPage, n = std::min(bytes, kPage - off);
    auto it = dip.pages.find(page);
    if (write) {
      if (it == dip.pages.end()) it = dip.pages.emplace(page, std::unique_ptr<std::uint8_t[]>(new std::uint8_t[kPage]())).first;
      std::memcpy(it->second.get() + off, data, n);
    } else if (it == dip.pages.end()) {
      std::memset(data, 0, n);
    } else {
      std::memcpy(data, it->second.get() + off, n);
    }
    data += n, addr += n, bytes -= n;
  }
}

NetworkModel::Dip& NetworkModel::dipOf(std::uint64_t addr, std::uint64_t bytes, std::uint64_t& offset) {
  std::vector<Dip>& all = dips();
  const std::uint64_t capacity = std::uint64_t(config_.dip.hbm_gib) << 30;
  const std::uint64_t index = addr / capacity;
  offset = addr % capacity;
  if (index >= all.size() || offset + bytes > capacity)
    throw std::runtime_error("HBM range [" + std::to_string(addr) + ", " + std::to_string(addr + bytes) + ") is outside the HBM of the system's " +
                             std::to_string(all.size()) + " DIPs");
  return all[std::size_t(index)];
}

void NetworkModel::writeHbm(std::uint64_t addr, const std::uint8_t* data, std::uint64_t bytes) {
  std::uint64_t offset = 0;
  Dip& d = dipOf(addr, bytes, offset);
  std::vector<std::uint8_t> copy(data, data + bytes);
  hbmAccess(d, offset, copy.data(), bytes, true);
}

void NetworkModel::holdHbm(std::uint64_t addr, std::uint64_t bytes, std::uint64_t cycle) {
  std::uint64_t offset = 0;
  Dip& d = dipOf(addr, bytes, offset);
  if (bytes && cycle) d.arrivals.push_back({offset, offset + bytes, cycle});
}

std::uint64_t NetworkModel::Dip::arrivedBy(std::uint64_t offset, std::uint64_t bytes) const {
  std::uint64_t cycle = 0;
  for (const Arrival& a : arrivals)
    if (offset < a.end && a.begin < offset + bytes) cycle = std::max(cycle, a.cycle);
  return cycle;
}

void NetworkModel::readHbm(std::uint64_t addr, std::uint8_t* data, std::uint64_t bytes) {
  std::uint64_t offset = 0;
  Dip& d = dipOf(addr, bytes, offset);
  hbmAccess(d, offset, data, bytes, false);
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
  const auto outside = [&](std::uint64_t addr) { return addr > sramBytes_ || bytes > sramBytes_ - addr; };
  if (!movesValues_ && bytes && (outside(fromAddr) || outside(toAddr))) {
    const bool src = outside(fromAddr);
    const std::uint64_t a = src ? fromAddr : toAddr;
    error = std::string(src ? "source" : "destination") + " range [" + std::to_string(a) + ", " + std::to_string(a + bytes) +
            ") is outside the SRAM of core " + std::to_string(src ? fromCore : toCore);
    return false;
  }
  if (!movesValues_) return true;
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

void NetworkModel::signal(int core, std::uint64_t cycle, int semaphore, std::int64_t count, const RemoteTransfer& cause) {
  if (!binding_.count(core)) {
    passiveCore(core).sem[std::size_t(semaphore)] += count;  // nobody waits on a core with no program
    return;
  }
  ::tlm::tlm_generic_payload p;
  SignalDelivery s;
  s.cycle = cycle, s.semaphore = semaphore, s.count = count;
  s.otherCore = core == cause.srcCore ? cause.dstCore : cause.srcCore;
  s.sentCycle = cause.issueCycle;
  s.hbm = cause.kind == RemoteTransfer::Kind::HbmRead || cause.kind == RemoteTransfer::Kind::HbmWrite;
  p.set_extension(&s);
  sc_core::sc_time zero = sc_core::SC_ZERO_TIME;
  signals[std::size_t(binding_.at(core))]->b_transport(p, zero);
  p.clear_extension(&s);
}

void NetworkModel::handle(RemoteTransfer& r) {
  if (r.kind == RemoteTransfer::Kind::HbmRead || r.kind == RemoteTransfer::Kind::HbmWrite) {
    handleHbm(r);
    return;
  }
  if (r.dstCore < 0 || r.dstCore >= network().nodeCount() || !network().isActive(r.dstCore)) {
    r.error = "core " + std::to_string(r.dstCore) + " is not an active core of this system (" +
              std::to_string(network().activeNodes().size()) + " active cores, ids 0.." + std::to_string(network().nodeCount() - 1) + ")";
    return;
  }
  try {
    const std::uint64_t key = std::uint64_t(std::uint32_t(r.srcCore)) << 32 | std::uint32_t(r.dstCore);
    switch (r.kind) {
      case RemoteTransfer::Kind::Put: {
        if (!copy(r.srcCore, r.localAddr, r.dstCore, r.remoteAddr, r.bytes, r.error)) return;
        const Delivery d = network().send(r.issueCycle, r.srcCore, r.dstCore, r.bytes, TrafficClass::Request);
        std::uint64_t& last = lastArrival_[key];
        last = std::max(last, d.arrivalCycle);
        r.localDoneCycle = d.injectedCycle;
        if (r.semaphore >= 0) signal(r.dstCore, d.arrivalCycle, r.semaphore, 1, r);
        break;
      }
      case RemoteTransfer::Kind::Get: {
        if (!copy(r.dstCore, r.remoteAddr, r.srcCore, r.localAddr, r.bytes, r.error)) return;
        const Delivery req = network().send(r.issueCycle, r.srcCore, r.dstCore, kControlBytes, TrafficClass::Request);
        const Delivery data = network().send(req.arrivalCycle, r.dstCore, r.srcCore, r.bytes, TrafficClass::Response);
        r.localDoneCycle = data.arrivalCycle;
        if (r.semaphore >= 0) signal(r.srcCore, data.arrivalCycle, r.semaphore, 1, r);
        break;
      }
      case RemoteTransfer::Kind::Signal: {
        const Delivery d = network().send(r.issueCycle, r.srcCore, r.dstCore, kControlBytes, TrafficClass::Request);
        // A signal never overtakes the data sent before it from the same core to the same core.
        std::uint64_t& last = lastArrival_[key];
        last = std::max(last, d.arrivalCycle);
        r.localDoneCycle = d.injectedCycle;
        signal(r.dstCore, last, r.semaphore, r.count, r);
        break;
      }
      case RemoteTransfer::Kind::HbmRead:
      case RemoteTransfer::Kind::HbmWrite: break;  // handled by handleHbm
    }
  } catch (const NetworkError& e) {
    r.error = e.what();
  }
}

void NetworkModel::handleHbm(RemoteTransfer& r) {
  std::vector<Dip>& all = dips();
  const bool read = r.kind == RemoteTransfer::Kind::HbmRead;
  const char* what = read ? "hbmrd" : "hbmwr";
  if (all.empty()) {
    r.error = std::string("no interface processor with HBM in this system (dip.per_tile DIPs come with each whole "
                          "training tile of tile.die_rows x tile.die_cols dies; a smaller system has dip.edge_sources)");
    return;
  }
  const std::uint64_t capacity = std::uint64_t(config_.dip.hbm_gib) << 30;
  const std::uint64_t index = r.remoteAddr / capacity, offset = r.remoteAddr % capacity;
  if (index >= all.size() || offset + r.bytes > capacity) {
    r.error = std::string("HBM range [") + std::to_string(r.remoteAddr) + ", " + std::to_string(r.remoteAddr + r.bytes) +
              ") is outside the HBM of the system's " + std::to_string(all.size()) + " DIPs (" +
              std::to_string(config_.dip.hbm_gib) + " GiB each, one DIP per " + std::to_string(capacity) +
              " bytes of address space; a transfer may not span two)";
    (void)what;
    return;
  }
  Dip& dip = all[std::size_t(index)];
  // Move the bytes now (functional), then time the trip.
  std::vector<std::uint8_t> buf(r.bytes);
  const auto local = [&](::tlm::tlm_command cmd) {
    if (!binding_.count(r.srcCore)) return false;
    ::tlm::tlm_generic_payload p;
    p.set_command(cmd);
    p.set_address(r.localAddr);
    p.set_data_ptr(buf.data());
    p.set_data_length(unsigned(r.bytes));
    return sram[std::size_t(binding_.at(r.srcCore))]->transport_dbg(p) == r.bytes;
  };
  if (read) {
    hbmAccess(dip, offset, buf.data(), r.bytes, false);
    if (!local(::tlm::TLM_WRITE_COMMAND)) {
      r.error = "destination range is outside the SRAM of core " + std::to_string(r.srcCore);
      return;
    }
    dip.bytesRead += r.bytes;
  } else {
    if (!local(::tlm::TLM_READ_COMMAND)) {
      r.error = "source range is outside the SRAM of core " + std::to_string(r.srcCore);
      return;
    }
    hbmAccess(dip, offset, buf.data(), r.bytes, true);
    dip.bytesWritten += r.bytes;
  }
  // The DIP's link and HBM are set in GB/s: their cycles at the core's clock (rounded up).
  const auto cyclesFor = [&](double bytesPerCycle) {
    return std::max<std::uint64_t>(1, std::uint64_t(std::ceil(double(r.bytes) / bytesPerCycle - 1e-9)));
  };
  const std::uint64_t linkCycles = cyclesFor(dipLinkBytesPerCycle(config_));
  const std::uint64_t hbmCycles = cyclesFor(hbmBytesPerCycle(config_));
  const std::uint64_t latency = std::uint64_t(hbmLatencyCycles(config_));
  // A tile's DIP joins the mesh at its router; an edge source spans the system's west edge and
  // joins it at the edge router of the row of the core it serves.
  const int entry = dip.wholeEdge ? network().node(network().position(r.srcCore).row, 0) : dip.node;
  try {
    if (read) {
      // Request to the DIP's router and over its link; HBM; the data back over the link and mesh.
      const Delivery req = network().send(r.issueCycle, r.srcCore, entry, kControlBytes, TrafficClass::Request);
      const std::uint64_t atDip = dip.link.earliestFree(req.arrivalCycle, 1) + 1;
      dip.link.reserve(atDip - 1, 1);
      const std::uint64_t h = dip.hbm.earliestFree(std::max(atDip, dip.arrivedBy(offset, r.bytes)), hbmCycles);
      dip.hbm.reserve(h, hbmCycles);
      const std::uint64_t out = dip.link.earliestFree(h + latency, linkCycles);
      dip.link.reserve(out, linkCycles);
      // The data streams from HBM over the link into the mesh: its tail cannot enter the mesh
      // before it has crossed the slower of the two, so a stream they bound starts later.
      const std::uint64_t meshCycles = cyclesFor(double(config_.die.link_bytes_per_cycle));
      const std::uint64_t slowest = std::max(hbmCycles, linkCycles);
      const Delivery data = network().send(out + (slowest > meshCycles ? slowest - meshCycles : 0), entry, r.srcCore, r.bytes, TrafficClass::Response);
      r.localDoneCycle = data.arrivalCycle;
    } else {
      // Data to the DIP's router and over its link into HBM; a one-packet acknowledgement back.
      const Delivery data = network().send(r.issueCycle, r.srcCore, entry, r.bytes, TrafficClass::Request);
      const std::uint64_t in = dip.link.earliestFree(data.arrivalCycle, linkCycles);
      dip.link.reserve(in, linkCycles);
      const std::uint64_t h = dip.hbm.earliestFree(in + linkCycles, hbmCycles);
      dip.hbm.reserve(h, hbmCycles);
      const Delivery ack = network().send(h + hbmCycles + latency, entry, r.srcCore, kControlBytes, TrafficClass::Response);
      r.localDoneCycle = ack.arrivalCycle;
    }
  } catch (const NetworkError& e) {
    r.error = e.what();
    return;
  }
  if (r.semaphore >= 0) signal(r.srcCore, r.localDoneCycle, r.semaphore, 1, r);
}

}  // namespace tatami::tlm
