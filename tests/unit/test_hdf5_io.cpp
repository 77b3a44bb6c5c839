// HDF5 files of SRAM regions: a written file reads back; malformed files are refused by name; the
// reader process that checks a file from outside before this process reads it.
#include <doctest/doctest.h>

#include <H5Cpp.h>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "../../runtime/src/hdf5_guard.h"
#include "tatami/runtime/hdf5_io.h"

using namespace tatami;
using namespace tatami::runtime;

TEST_CASE("SRAM regions round-trip through HDF5, each type in its storage type") {
  const std::string path = "test_hdf5_roundtrip.h5";
  std::vector<SramImage> images(3);
  images[0] = {"w", 0x100, DType::F32, {2, 3}, {}};
  images[0].bytes.resize(24);
  const float w[6] = {1, 2, 3, 4, 5, -6};
  std::memcpy(images[0].bytes.data(), w, 24);
  images[1] = {"labels", 0x200, DType::I32, {4}, std::vector<std::uint8_t>(16, 7)};
  images[2] = {"half", 0x400, DType::Bf16, {2}, {0x80, 0x3F, 0x00, 0xC0}};
  writeSramImages(path, images, {{"config", "[core]\nsram_kib = 64\n"}});
  const auto back = readSramImages(path);
  REQUIRE(back.size() == 3);
  // HDF5 lists datasets by name.
  CHECK(back[0].name == "half");
  CHECK(back[0].type == DType::Bf16);
  CHECK(back[0].bytes == images[2].bytes);
  CHECK(back[1].name == "labels");
  CHECK(back[1].addr == 0x200);
  CHECK(back[1].bytes == images[1].bytes);
  CHECK(back[2].shape == std::vector<std::uint64_t>{2, 3});
  CHECK(back[2].bytes == images[0].bytes);
  std::remove(path.c_str());
}

TEST_CASE("malformed HDF5 inputs are refused with the file and dataset named") {
  CHECK_THROWS_WITH(readSramImages("no_such_file.h5"), "cannot open HDF5 file 'no_such_file.h5': No such file or directory");
  {
    std::FILE* f = std::fopen("not_hdf5.h5", "w");
    std::fputs("hello", f);
    std::fclose(f);
  }
  CHECK_THROWS_WITH(readSramImages("not_hdf5.h5"), "cannot open HDF5 file 'not_hdf5.h5' (missing, or not an HDF5 file)");
  std::remove("not_hdf5.h5");
  {
    H5::H5File file("no_address.h5", H5F_ACC_TRUNC);
    hsize_t dims[1] = {4};
    H5::DataSpace space(1, dims);
    file.createDataSet("x", H5::PredType::NATIVE_FLOAT, space);
  }
  CHECK_THROWS_WITH(readSramImages("no_address.h5"),
                    "no_address.h5: dataset 'x' has no 'address' attribute (its SRAM byte address)");
  std::remove("no_address.h5");
}

namespace {

// Reader functions for the checks below: each answers with the reader's process id.
void answerPid(const std::string&) { throw std::runtime_error("pid " + std::to_string(getpid())); }
void crash(const std::string&) { std::raise(SIGSEGV); }
void loop(const std::string&) {
  for (;;) pause();
}
void succeed(const std::string&) {}

std::string checkMessage(const std::string& path, Hdf5Read read) {
  try {
    checkHdf5InChild(path, read);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("HDF5 checks run in a reader process kept between close checks, replaced after a crash, a hang or idleness") {
  const std::string path = "test_hdf5_reader.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f);
  std::fputs("any file: the reader functions here do not open it", f);
  std::fclose(f);
  const std::string here = "pid " + std::to_string(getpid());
  const std::string first = checkMessage(path, answerPid);
  REQUIRE(first.rfind("pid ", 0) == 0);
  CHECK(first != here);                              // not in this process
  CHECK(checkMessage(path, answerPid) == first);     // the same reader, a moment later
  CHECK(checkMessage(path, succeed).empty());
  CHECK(checkMessage(path, crash).find("crashed the HDF5 library (Segmentation fault): its metadata is corrupt") != std::string::npos);
  const std::string afterCrash = checkMessage(path, answerPid);
  CHECK(afterCrash.rfind("pid ", 0) == 0);
  CHECK(afterCrash != first);                        // a fresh reader
  setenv("TATAMI_HDF5_SECONDS", "0.2", 1);
  CHECK(checkMessage(path, loop).find("did not finish in 0.2 s: its metadata is corrupt (the HDF5 library loops on it)") != std::string::npos);
  unsetenv("TATAMI_HDF5_SECONDS");
  const std::string afterHang = checkMessage(path, answerPid);
  CHECK(afterHang != afterCrash);
  usleep(400000);                                    // longer than a reader is reused after its last answer
  const std::string afterIdle = checkMessage(path, answerPid);
  CHECK(afterIdle.rfind("pid ", 0) == 0);
  CHECK(afterIdle != afterHang);
  CHECK(checkMessage("no_such_file.h5", succeed).find("cannot open HDF5 file 'no_such_file.h5'") != std::string::npos);
  std::remove(path.c_str());
}
