// libFuzzer target: HDF5 files that the HDF5 library itself writes, their content chosen by the
// fuzzer: groups and datasets under the names tatami reads (and others), every storage type
// (integers and floats of each width, fixed and variable-length strings, compounds, arrays),
// scalar, null and simple dataspaces of any rank (empty ones included), attributes of any type on
// the root and on each dataset. The file is then read as tatami reads an outside file: named
// arrays, SRAM images, a training checkpoint and an image dataset. The library sees only valid
// files here (fuzz_hdf5 mutates the bytes, through the child guard); this target exercises what
// is tatami's own: the checks of types, ranks, sizes, names and attributes. A
// std::runtime_error is the expected answer to content tatami does not take; anything else is a
// finding.
#include <fuzzer/FuzzedDataProvider.h>

#include <H5Cpp.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_input.h"
#include "hdf5_readers.h"
#include "tatami/runtime/dataset.h"

namespace {

const char* const kNames[] = {"x", "w", "loss", "cycles", "step", "next_step", "run", "summary", "config", "columns",
                              "train_images", "train_labels", "test_images", "test_labels", "weights/w", "state/w",
                              "state/m", "host/seconds", "table/a", "address", "format", "model", "a/b/c"};
const char* const kAttributes[] = {"address", "format", "config", "summary", "model", "run", "columns", "step", "unit"};
const char* const kFormats[] = {"f32", "bf16", "e4m3", "e5m2", "i32", "f64", ""};

std::string pick(FuzzedDataProvider& in, const char* const* names, std::size_t count) {
  std::string name = names[in.ConsumeIntegralInRange<std::size_t>(0, count - 1)];
  if (in.ConsumeBool()) name += in.ConsumeRandomLengthString(6);
  return name;
}

/// A storage type: every width of integer and float, strings fixed and variable, a compound and an
/// array type. `bytes` is its size; `vlen` says its elements are char pointers.
H5::DataType storage(FuzzedDataProvider& in, bool& vlen) {
  vlen = false;
  switch (in.ConsumeIntegralInRange(0, 14)) {
    case 0: return H5::PredType::NATIVE_FLOAT;
    case 1: return H5::PredType::NATIVE_DOUBLE;
    case 2: return H5::PredType::NATIVE_INT8;
    case 3: return H5::PredType::NATIVE_UINT8;
    case 4: return H5::PredType::NATIVE_INT16;
    case 5: return H5::PredType::NATIVE_UINT16;
    case 6: return H5::PredType::NATIVE_INT32;
    case 7: return H5::PredType::NATIVE_UINT32;
    case 8: return H5::PredType::NATIVE_INT64;
    case 9: return H5::PredType::NATIVE_UINT64;
    case 10: return H5::StrType(H5::PredType::C_S1, in.ConsumeIntegralInRange<std::size_t>(1, 16));
    case 11: vlen = true; return H5::StrType(H5::PredType::C_S1, H5T_VARIABLE);
    case 12: {
      H5::CompType c(std::size_t{12});
      c.insertMember("a", 0, H5::PredType::NATIVE_FLOAT);
      c.insertMember("b", 4, H5::PredType::NATIVE_INT64);
      return c;
    }
    case 13: {
      const hsize_t dims[1] = {in.ConsumeIntegralInRange<hsize_t>(1, 4)};
      return H5::ArrayType(H5::PredType::NATIVE_FLOAT, 1, dims);
    }
    default: return H5::PredType::NATIVE_HBOOL;
  }
}

H5::DataSpace space(FuzzedDataProvider& in, std::size_t& elements) {
  const int kind = in.ConsumeIntegralInRange(0, 5);
  if (kind == 0) return elements = 1, H5::DataSpace(H5S_SCALAR);
  if (kind == 1) return elements = 0, H5::DataSpace(H5S_NULL);
  const int rank = in.ConsumeIntegralInRange(1, 4);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  elements = 1;
  for (auto& d : dims) d = in.ConsumeIntegralInRange<hsize_t>(0, 8), elements *= d;
  return H5::DataSpace(rank, dims.data());
}

/// Element bytes (or, for variable-length strings, pointers to NUL-terminated strings kept in
/// `strings`) drawn from the input.
std::vector<char> data(FuzzedDataProvider& in, const H5::DataType& type, bool vlen, std::size_t elements,
                       std::vector<std::string>& strings, std::vector<const char*>& pointers) {
  if (vlen) {
    strings.clear(), pointers.clear();
    for (std::size_t i = 0; i < elements; ++i) {
      const int which = in.ConsumeIntegralInRange(0, 2);
      strings.push_back(which == 0 ? kFormats[in.ConsumeIntegralInRange<std::size_t>(0, 6)] : in.ConsumeRandomLengthString(24));
    }
    for (const auto& s : strings) pointers.push_back(s.c_str());
    return {};
  }
  std::vector<char> bytes(elements * type.getSize());
  for (auto& b : bytes) b = char(in.ConsumeIntegral<std::uint8_t>());
  return bytes;
}

/// A value drawn from the input: its storage type, dataspace and elements.
struct Typed {
  bool vlen = false;
  H5::DataType type;
  std::size_t elements = 0;
  H5::DataSpace where;
  std::vector<std::string> strings;
  std::vector<const char*> pointers;
  std::vector<char> raw;
  explicit Typed(FuzzedDataProvider& in) : type(storage(in, vlen)), where(space(in, elements)) {
    raw = data(in, type, vlen, elements, strings, pointers);
  }
  const void* bytes() const { return vlen ? static_cast<const void*>(pointers.data()) : static_cast<const void*>(raw.data()); }
};

void attributes(FuzzedDataProvider& in, H5::H5Object& on) {
  const int count = in.ConsumeIntegralInRange(0, 3);
  for (int k = 0; k < count; ++k) {
    const std::string name = pick(in, kAttributes, sizeof kAttributes / sizeof *kAttributes);
    if (on.attrExists(name)) continue;
    const Typed v(in);
    H5::Attribute a = on.createAttribute(name, v.type, v.where);
    if (v.elements) a.write(v.type, v.bytes());
  }
}

/// Writes the file the input describes; false if the library refuses the description (a name
/// taken twice, a path through a dataset): nothing to read then.
bool build(FuzzedDataProvider& in, const std::string& path) {
  try {
    H5::H5File file(path, H5F_ACC_TRUNC);
    H5::Group root = file.openGroup("/");
    attributes(in, root);
    const int objects = in.ConsumeIntegralInRange(0, 8);
    for (int k = 0; k < objects; ++k) {
      const std::string name = pick(in, kNames, sizeof kNames / sizeof *kNames);
      H5::LinkCreatPropList links;
      links.setCreateIntermediateGroup(true);
      if (in.ConsumeIntegralInRange(0, 7) == 0) {
        H5::Group g = file.createGroup(name, links);
        attributes(in, g);
        continue;
      }
      const Typed v(in);
      H5::DataSet ds = file.createDataSet(name, v.type, v.where, H5::DSetCreatPropList::DEFAULT, H5::DSetAccPropList::DEFAULT, links);
      if (v.elements) ds.write(v.bytes(), v.type);
      attributes(in, ds);
    }
    return true;
  } catch (const H5::Exception&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("TATAMI_HDF5_CHILD", "0", 1);  // valid files only: read in this process, at full speed
  H5::Exception::dontPrint();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  FuzzedDataProvider in(bytes, size);
  const std::string path = writeFuzzFile(nullptr, 0, ".content.h5");
  if (!build(in, path)) return 0;
  readAsTatamiDoes(path);
  try {
    tatami::runtime::loadImageDataset(path, size % 2 ? "train" : "t10k");  // one split: each read opens the file again
  } catch (const std::runtime_error&) {
  }
  return 0;
}
