// The fuzz targets link the runtime, and with it Debian's libsystemc, whose library refers to the
// program's sc_main. libFuzzer owns main and no target starts a simulation, so sc_main is never
// called: it exists for the linker.
#include <cstdio>

extern "C" int sc_main(int, char**) {
  std::fputs("fuzz targets start no simulation\n", stderr);
  return 1;
}
