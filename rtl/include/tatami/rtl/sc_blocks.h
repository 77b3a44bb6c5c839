// The verilated blocks as SystemC models (Verilator's SystemC output), for RTL cores inside the
// TLM simulation. Each is driven from the calling SystemC thread: there is no free-running clock;
// every cycle() toggles the model's clock signal and waits the delta cycles its evaluation takes,
// so a block costs nothing while its core has no instruction for it. Same interface as the plain
// C++ wrappers (vector_unit.h, matrix_engine.h), which the self-checking harnesses use.
//
// Construct during elaboration (the models are sc_modules, named under the current module);
// call cycle() only from a SystemC thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tatami/rtl/matrix_engine.h"
#include "tatami/rtl/vector_unit.h"

namespace tatami::rtl {

class ScVectorUnit {
 public:
  explicit ScVectorUnit(const char* name);
  ~ScVectorUnit();
  static int latency();  ///< the LATENCY the RTL was built with
  void traceTo(const std::string& path);
  void setTime(std::uint64_t cycle, bool dump);
  VectorUnit::Outputs cycle(bool inValid, const VectorUnit::Command& command, const VectorUnit::Vector& a, const VectorUnit::Vector& b,
                            const VectorUnit::Vector& c, bool outReady);

 private:
  struct Model;
  std::unique_ptr<Model> model_;
};

class ScMatrixEngine {
 public:
  explicit ScMatrixEngine(const char* name);
  ~ScMatrixEngine();
  static int latency();  ///< the RTL's LATENCY, UNITS (per side) and DIM parameters
  static int units();
  static int dim();
  void traceTo(const std::string& path);
  void setTime(std::uint64_t cycle, bool dump);
  MatrixEngine::Outputs cycle(const MatrixEngine::Inputs& in);

 private:
  struct Model;
  std::unique_ptr<Model> model_;
};

}  // namespace tatami::rtl
