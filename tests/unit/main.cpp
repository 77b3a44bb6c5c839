// doctest runner. main() enters SystemC's kernel (which calls sc_main) after silencing its banner.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <systemc>

extern "C" int sc_main(int argc, char* argv[]) {
  doctest::Context context(argc, argv);
  return context.run();
}

int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
