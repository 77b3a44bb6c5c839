// doctest runner. libsystemc provides main() and calls sc_main, so the runner lives there.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

extern "C" int sc_main(int argc, char* argv[]) {
  doctest::Context context(argc, argv);
  return context.run();
}
