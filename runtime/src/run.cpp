// One-core program runs: a fresh SystemC kernel per run, the core model, a debug initiator that
// loads inputs and reads outputs through the core's TLM debug socket.
#include "tatami/runtime/run.h"

#include <chrono>
#include <cstring>
#include <cstdlib>
#include <stdexcept>
#include <tlm_utils/simple_initiator_socket.h>

namespace tatami::runtime {

namespace {

/// Functional access to a core's SRAM over TLM-2.0 (transport_dbg: no simulated time).
struct DebugPort : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<DebugPort> socket;
  explicit DebugPort(const sc_core::sc_module_name& n) : sc_core::sc_module(n), socket("socket") {}
  bool access(::tlm::tlm_command cmd, std::uint64_t addr, std::uint8_t* data, unsigned len) {
    ::tlm::tlm_generic_payload p;
    p.set_command(cmd);
    p.set_address(addr);
    p.set_data_ptr(data);
    p.set_data_length(len);
    return socket->transport_dbg(p) == len;
  }
};

void freshKernel() {
  // One elaboration per kernel: every run gets a new context. The old one is leaked on purpose
  // (deleting a finished context is not supported by SystemC 2.3).
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  sc_core::sc_curr_simcontext = new sc_core::sc_simcontext();
  sc_core::sc_default_global_context = sc_core::sc_curr_simcontext;
}

}  // namespace

std::uint64_t fnv1a(const std::vector<std::uint8_t>& bytes, std::uint64_t hash) {
  // FNV-1a over little-endian 8-byte words (the tail zero-padded), then the length.
  constexpr std::uint64_t kPrime = 1099511628211ull;
  const std::size_t words = bytes.size() / 8;
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + 8 * i, 8);
    hash = (hash ^ w) * kPrime;
  }
  if (bytes.size() % 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, bytes.data() + 8 * words, bytes.size() % 8);
    hash = (hash ^ w) * kPrime;
  }
  return (hash ^ bytes.size()) * kPrime;
}

double RunResult::matrixUtilization(const ArchConfig& c) const {
  const double peak = 2.0 * double(c.core.matrix_units * c.core.matrix_dim * c.core.matrix_dim);
  if (stats.cycles == 0) return 0;
  return double(stats.matrixFlops) / (peak * coresUsed * double(stats.cycles));
}

RunResult runProgram(const ArchConfig& config, const Program& program, const RunOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  freshKernel();
  tlm::CoreOptions coreOptions;
  coreOptions.timingOnly = options.timingOnly;
  tlm::CoreModel core("core0", config, program, coreOptions, 0);
  DebugPort port("loader");
  port.socket.bind(core.debugSocket);

  RunResult result;
  // Inputs go in after the program's .init blocks, which the core loaded at construction.
  for (const auto& in : options.inputs) {
    if (!core.state().sram.contains(in.addr, in.bytes.size()))
      throw std::runtime_error("input '" + in.name + "': " + std::to_string(in.bytes.size()) + " bytes at address " +
                               std::to_string(in.addr) + " do not fit in the SRAM of " +
                               std::to_string(core.state().sram.size()) + " bytes");
    std::vector<std::uint8_t> copy = in.bytes;
    port.access(::tlm::TLM_WRITE_COMMAND, in.addr, copy.data(), unsigned(copy.size()));
  }
  sc_core::sc_start();
  result.error = core.error();
  result.stats = core.stats();

  std::vector<SramImage> regions;
  for (const auto& o : program.outputs) regions.push_back({o.name, o.addr, o.type, o.shape, {}});
  for (const auto& d : options.dumps) regions.push_back(d);
  std::uint64_t hash = 1469598103934665603ull;
  for (auto& r : regions) {
    std::uint64_t count = 1;
    for (auto d : r.shape) count *= d;
    // A timing-only run has no floating-point values to report.
    if (options.timingOnly && r.type != DType::I32) {
      result.outputs.push_back(std::move(r));
      continue;
    }
    r.bytes.resize(count * std::uint64_t(dtypeSize(r.type)));
    if (!port.access(::tlm::TLM_READ_COMMAND, r.addr, r.bytes.data(), unsigned(r.bytes.size()))) {
      result.error += (result.error.empty() ? "" : "\n") + std::string("output '") + r.name +
                      "' lies outside the SRAM (address " + std::to_string(r.addr) + ", " +
                      std::to_string(r.bytes.size()) + " bytes)";
      r.bytes.clear();
    }
    hash = fnv1a(r.bytes, hash);
    result.outputs.push_back(std::move(r));
  }
  result.outputHash = hash;
  result.hostSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace tatami::runtime
