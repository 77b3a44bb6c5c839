# Warnings for Tatami's own code only (never put on verilated or generated targets).
add_library(tatami_warnings INTERFACE)
target_compile_options(tatami_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter
                       $<IF:$<CXX_COMPILER_ID:GNU>,-Wshadow=local,-Wshadow-uncaptured-local>)
option(TATAMI_WERROR "Treat warnings as errors" ON)
if(TATAMI_WERROR)
  target_compile_options(tatami_warnings INTERFACE -Werror)
endif()
# GCC's flow analysis under the sanitizers' instrumentation reports uninitialized values inside
# the standard library (std::regex, std::function) that are not there.
if(TATAMI_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(tatami_warnings INTERFACE -Wno-maybe-uninitialized)
endif()
