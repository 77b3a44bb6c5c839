// HDF5 reading and writing of SRAM regions (the C++ API of the serial HDF5 library).
#include "tatami/runtime/hdf5_io.h"

#include "hdf5_guard.h"
#include "tatami/runtime/output_file.h"

#include <H5Cpp.h>

#include <stdexcept>

namespace tatami::runtime {

namespace {

struct Quiet {
  Quiet() { H5::Exception::dontPrint(); }
};

DType typeFromName(const std::string& s) {
  for (DType t : {DType::F32, DType::Bf16, DType::E4m3, DType::E5m2, DType::I32})
    if (s == dtypeName(t)) return t;
  return DType::None;
}

H5::PredType storageType(DType t) {
  switch (t) {
    case DType::F32: return H5::PredType::NATIVE_FLOAT;
    case DType::I32: return H5::PredType::NATIVE_INT32;
    case DType::Bf16: return H5::PredType::NATIVE_UINT16;
    default: return H5::PredType::NATIVE_UINT8;
  }
}

std::string readStringAttr(const H5::H5Object& obj, const char* name) {
  return readStringAttribute(obj.openAttribute(name), std::string("attribute '") + name + "'");
}

}  // namespace

namespace {

std::vector<SramImage> readSramImagesHere(const std::string& path) {
  static Quiet quiet;
  std::vector<SramImage> out;
  H5::H5File file;
  try {
    file.openFile(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception&) {
    throw std::runtime_error("cannot open HDF5 file '" + path + "' (missing, or not an HDF5 file)");
  }
  std::string where = "'" + path + "'";
  try {
    const hsize_t n = file.getNumObjs();
    std::uint64_t total = 0;
    for (hsize_t i = 0; i < n; ++i) {
      const std::string name = file.getObjnameByIdx(i);
      where = path + ": dataset '" + name + "'";
      if (file.getObjTypeByIdx(i) != H5G_DATASET) continue;
      H5::DataSet ds = file.openDataSet(name);
      SramImage img;
      img.name = name;
      if (!ds.attrExists("address")) throw std::runtime_error(where + " has no 'address' attribute (its SRAM byte address)");
      {
        // A whole number, not negative: read as what it is, never converted with clamping.
        H5::Attribute a = ds.openAttribute("address");
        if (a.getTypeClass() != H5T_INTEGER || a.getSpace().getSimpleExtentNpoints() != 1)
          throw std::runtime_error(where + ": its 'address' attribute must be one integer");
        if (a.getIntType().getSign() == H5T_SGN_2) {
          std::int64_t addr = 0;
          a.read(H5::PredType::NATIVE_INT64, &addr);
          if (addr < 0) throw std::runtime_error(where + ": its 'address' attribute is negative (" + std::to_string(addr) + ")");
          img.addr = std::uint64_t(addr);
        } else {
          std::uint64_t addr = 0;
          a.read(H5::PredType::NATIVE_UINT64, &addr);
          img.addr = addr;
        }
      }
      const H5::DataType dt = ds.getDataType();
      const H5T_class_t cls = dt.getClass();
      const std::size_t size = dt.getSize();
      if (ds.attrExists("format")) {
        H5::Attribute f = ds.openAttribute("format");
        if (f.getTypeClass() != H5T_STRING || f.getSpace().getSimpleExtentType() != H5S_SCALAR)
          throw std::runtime_error(where + ": its 'format' attribute must be one string (f32, bf16, e4m3, e5m2, i32)");
        img.type = typeFromName(readStringAttr(ds, "format"));
        if (img.type == DType::None) throw std::runtime_error(where + ": unknown 'format' attribute (f32, bf16, e4m3, e5m2, i32)");
      } else if (cls == H5T_FLOAT && size == 4) {
        img.type = DType::F32;
      } else if (cls == H5T_INTEGER && size == 4) {
        img.type = DType::I32;
      } else {
        throw std::runtime_error(where + ": element type must be 32-bit float or integer, or carry a 'format' attribute");
      }
      if (std::size_t(dtypeSize(img.type)) != size)
        throw std::runtime_error(where + ": its elements are " + std::to_string(size) + " bytes but format " + dtypeName(img.type) + " has " +
                                 std::to_string(dtypeSize(img.type)));
      H5::DataSpace space = ds.getSpace();
      const int rank = space.getSimpleExtentNdims();
      if (rank < 0 || rank > 32) throw std::runtime_error(where + " has rank " + std::to_string(rank) + " (at most 32)");
      std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
      space.getSimpleExtentDims(dims.data());
      // Bytes, checked before anything is allocated: no SRAM image is larger than the host.
      std::uint64_t bytes = size;
      for (auto d : dims) {
        if (d && bytes > maxHdf5Elements() / d) throw std::runtime_error(where + " is larger than this host could hold (its shape overflows)");
        bytes *= d;
        img.shape.push_back(d);
      }
      if (bytes > maxHdf5Elements() - total) throw std::runtime_error(where + " has " + std::to_string(bytes) + " bytes: more than this host can hold");
      total += bytes;
      img.bytes.resize(bytes);
      ds.read(img.bytes.data(), storageType(img.type));
      out.push_back(std::move(img));
    }
  } catch (const H5::Exception& e) {
    throw std::runtime_error("cannot read " + where + ": " + e.getDetailMsg());
  }
  return out;
}

}  // namespace

std::vector<SramImage> readSramImages(const std::string& path) {
  // In a reader process: a file whose metadata crashes or hangs the library is refused, and
  // this process never walks it.
  const std::string bytes = readHdf5InChild(path, [](const std::string& file) {
    ByteWriter w;
    const std::vector<SramImage> images = readSramImagesHere(file);
    w.u64(images.size());
    for (const SramImage& img : images) {
      w.text(img.name), w.u64(img.addr), w.u64(std::uint64_t(img.type)), w.u64(img.shape.size());
      for (std::uint64_t d : img.shape) w.u64(d);
      w.u64(img.bytes.size());
      w.raw(img.bytes.data(), img.bytes.size());
    }
    return w.take();
  });
  ByteReader r(bytes);
  std::vector<SramImage> out(r.u64());
  for (SramImage& img : out) {
    img.name = r.text(), img.addr = r.u64(), img.type = DType(r.u64());
    img.shape.resize(r.u64());
    for (std::uint64_t& d : img.shape) d = r.u64();
    img.bytes.resize(r.u64());
    r.raw(img.bytes.data(), img.bytes.size());
  }
  return out;
}

void writeSramImages(const std::string& path, const std::vector<SramImage>& images,
                     const std::vector<std::pair<std::string, std::string>>& rootAttributes) {
  static Quiet quiet;
  writeOutputFileVia(path, [&](const std::string& tmp) {
    try {
      H5::H5File file(tmp, H5F_ACC_TRUNC);
      const H5::StrType str(H5::PredType::C_S1, H5T_VARIABLE);
      const H5::DataSpace scalar(H5S_SCALAR);
      for (const auto& [k, v] : rootAttributes) {
        H5::Group root = file.openGroup("/");
        root.createAttribute(k, str, scalar).write(str, v);
      }
      for (const auto& img : images) {
        if (img.bytes.empty()) continue;
        std::vector<hsize_t> dims(img.shape.begin(), img.shape.end());
        H5::DataSpace space(int(dims.size()), dims.data());
        H5::DataSet ds = file.createDataSet(img.name, storageType(img.type), space);
        ds.write(img.bytes.data(), storageType(img.type));
        const std::uint64_t addr = img.addr;
        ds.createAttribute("address", H5::PredType::NATIVE_UINT64, scalar).write(H5::PredType::NATIVE_UINT64, &addr);
        ds.createAttribute("format", str, scalar).write(str, std::string(dtypeName(img.type)));
      }
      file.close();
    } catch (const H5::Exception& e) {
      throw OutputError("cannot write HDF5 file '" + path + "': " + e.getDetailMsg());
    }
  });
}

}  // namespace tatami::runtime
