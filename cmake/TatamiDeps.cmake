# Finds every external dependency once; parts link the imported targets defined here.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

# SystemC 2.3.4 ships only pkg-config files on Debian. The prefix must not be SYSTEMC, which
# would collide with the cache variables verilator-config.cmake reads.
pkg_check_modules(SystemC_PC REQUIRED IMPORTED_TARGET GLOBAL systemc>=2.3.3)
add_library(SystemC::systemc ALIAS PkgConfig::SystemC_PC)

find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(HDF5 REQUIRED COMPONENTS C CXX)
find_package(nlohmann_json 3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(doctest REQUIRED)
find_package(Protobuf REQUIRED)        # before ONNX: its config does not look for Protobuf itself
find_package(ONNX CONFIG REQUIRED)

# The RTL path is built by default when Verilator is present; OFF builds and tests without it.
find_package(verilator QUIET)
if(verilator_FOUND)
  set(_tatami_rtl_default ON)
else()
  set(_tatami_rtl_default OFF)
endif()
option(TATAMI_WITH_VERILATOR "Build the verilated RTL datapath" ${_tatami_rtl_default})
if(TATAMI_WITH_VERILATOR AND NOT verilator_FOUND)
  message(FATAL_ERROR "TATAMI_WITH_VERILATOR=ON but Verilator was not found (apt-get install verilator)")
endif()
if(TATAMI_WITH_VERILATOR)
  # Make verilated SystemC models use the same SystemC as the rest of the build.
  add_library(Verilator::systemc INTERFACE IMPORTED)
  target_link_libraries(Verilator::systemc INTERFACE PkgConfig::SystemC_PC)
endif()
message(STATUS "Tatami: RTL path (Verilator) ${TATAMI_WITH_VERILATOR}")
