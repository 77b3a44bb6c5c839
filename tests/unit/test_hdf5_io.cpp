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

// Reader functions for the test below.
std::string answerPid(const std::string&) { return "pid " + std::to_string(getpid()); }
std::string refuse(const std::string& path) { throw std::runtime_error("refused '" + path + "'"); }
std::string crash(const std::string&) {
  std::raise(SIGSEGV);
  return "";
}
std::string loop(const std::string&) {
  for (;;) pause();
}
std::string large(const std::string&) {
  std::string bytes(12 << 20, '\0');  // more than a socket buffers: read as it comes
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = char(i * 7 + i / 4096);
  return bytes;
}

/// What the reader returned, or "error: " and its message.
std::string readInChild(const std::string& path, Hdf5Read read) {
  try {
    return readHdf5InChild(path, read);
  } catch (const std::runtime_error& e) {
    return std::string("error: ") + e.what();
  }
}

}  // namespace

TEST_CASE("HDF5 files are read in a reader process kept between close reads, replaced after a crash, a hang or idleness") {
  const std::string path = "test_hdf5_reader.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f);
  std::fputs("any file: the reader functions here do not open it", f);
  std::fclose(f);
  const std::string here = "pid " + std::to_string(getpid());
  const std::string first = readInChild(path, answerPid);
  REQUIRE(first.rfind("pid ", 0) == 0);
  CHECK(first != here);                             // not in this process
  CHECK(readInChild(path, answerPid) == first);     // the same reader, a moment later
  CHECK(readInChild(path, refuse) == "error: refused 'test_hdf5_reader.txt'");
  CHECK(readInChild(path, large) == large(path));   // 12 MiB, every byte
  CHECK(readInChild(path, crash).find("crashed the HDF5 library (Segmentation fault): its metadata is corrupt") != std::string::npos);
  const std::string afterCrash = readInChild(path, answerPid);
  CHECK(afterCrash.rfind("pid ", 0) == 0);
  CHECK(afterCrash != first);                       // a fresh reader
  setenv("TATAMI_HDF5_SECONDS", "0.2", 1);
  CHECK(readInChild(path, loop).find("did not finish in 0.2 s: its metadata is corrupt (the HDF5 library loops on it)") != std::string::npos);
  unsetenv("TATAMI_HDF5_SECONDS");
  const std::string afterHang = readInChild(path, answerPid);
  CHECK(afterHang.rfind("pid ", 0) == 0);
  CHECK(afterHang != afterCrash);
  usleep(400000);                                   // longer than a reader is reused after its last answer
  const std::string afterIdle = readInChild(path, answerPid);
  CHECK(afterIdle.rfind("pid ", 0) == 0);
  CHECK(afterIdle != afterHang);
  CHECK(readInChild("no_such_file.h5", answerPid).find("cannot open HDF5 file 'no_such_file.h5'") != std::string::npos);
  setenv("TATAMI_HDF5_CHILD", "0", 1);
  CHECK(readInChild(path, answerPid) == here);      // in this process, when asked
  unsetenv("TATAMI_HDF5_CHILD");
  std::remove(path.c_str());
}
