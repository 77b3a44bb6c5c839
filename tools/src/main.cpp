// The `tatami` executable. SystemC's kernel is entered through sc_elab_and_sim, which calls
// sc_main; main() is ours so that the kernel's banner can be silenced before it prints.
#include <cstdlib>
#include <iostream>
#include <string>
#include <systemc>
#include <vector>

#include "tatami/tools/cli.h"

extern "C" int sc_main(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);
  return tatami::cli::run(args, std::cout, std::cerr);
}

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
