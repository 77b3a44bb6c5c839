// The `tatami` executable.
#include <iostream>
#include <string>
#include <vector>

#include "tatami/tools/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);
  return tatami::cli::run(args, std::cout, std::cerr);
}
