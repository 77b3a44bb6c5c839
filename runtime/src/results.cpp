// HDF5 result and checkpoint files.
#include "tatami/runtime/results.h"

#include <H5Cpp.h>

#include <cstdio>
#include <functional>
#include <set>
#include <stdexcept>

#include "hdf5_guard.h"
#include "tatami/runtime/output_file.h"

namespace tatami::runtime {

namespace {

/// Writes an HDF5 file replaced atomically: the root's string attributes, then `body`'s datasets.
void writeHdf5(const std::string& path, const std::map<std::string, std::string>& attributes,
               const std::function<void(H5::H5File&)>& body) {
  H5::Exception::dontPrint();
  writeOutputFileVia(path, [&](const std::string& tmp) {
    try {
      H5::H5File file(tmp, H5F_ACC_TRUNC);
      const H5::StrType str(H5::PredType::C_S1, H5T_VARIABLE);
      const H5::DataSpace scalar(H5S_SCALAR);
      H5::Group root = file.openGroup("/");
      for (const auto& [k, v] : attributes) root.createAttribute(k, str, scalar).write(str, v);
      body(file);
      file.close();
    } catch (const H5::Exception& e) {
      throw OutputError("cannot write '" + path + "': " + e.getDetailMsg());
    }
  });
}

}  // namespace

void writeArrays(const std::string& path, const std::vector<NamedArray>& arrays, const std::map<std::string, std::string>& attributes) {
  writeHdf5(path, attributes, [&](H5::H5File& file) {
    // No object records when it was made, so that the same results give the same bytes.
    H5::DSetCreatPropList datasets;
    H5Pset_obj_track_times(datasets.getId(), false);
    H5::PropList groups(H5Pcreate(H5P_GROUP_CREATE));
    H5Pset_obj_track_times(groups.getId(), false);
    std::set<std::string> made;
    for (const auto& a : arrays) {
      // Its groups first, each once.
      for (std::size_t slash = a.name.find('/', 1); slash != std::string::npos; slash = a.name.find('/', slash + 1)) {
        const std::string group = a.name.substr(0, slash);
        if (made.insert(group).second && !file.nameExists(group))
          H5Gclose(H5Gcreate2(file.getId(), group.c_str(), H5P_DEFAULT, groups.getId(), H5P_DEFAULT));
      }
      std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
      if (dims.empty()) dims.push_back(a.data.size());
      H5::DataSpace space(int(dims.size()), dims.data());
      H5::DataSet ds = file.createDataSet(a.name, H5::PredType::NATIVE_DOUBLE, space, datasets);
      if (!a.data.empty()) ds.write(a.data.data(), H5::PredType::NATIVE_DOUBLE);
    }
  });
}

void writeTable(const std::string& path, const std::vector<TableColumn>& columns, const std::map<std::string, std::string>& attributes) {
  std::map<std::string, std::string> attrs = attributes;
  for (const auto& c : columns) attrs["columns"] += c.name + "\n";
  writeHdf5(path, attrs, [&](H5::H5File& file) {
    const H5::StrType str(H5::PredType::C_S1, H5T_VARIABLE);
    const H5::DataSpace scalar(H5S_SCALAR);
    H5::Group table = file.createGroup("table");
    for (const auto& c : columns) {
      const hsize_t rows = c.text.empty() ? c.numbers.size() : c.text.size();
      H5::DataSpace space(1, &rows);
      H5::DataSet ds;
      if (c.text.empty()) {
        ds = table.createDataSet(c.name, H5::PredType::NATIVE_DOUBLE, space);
        if (rows) ds.write(c.numbers.data(), H5::PredType::NATIVE_DOUBLE);
      } else {
        std::vector<const char*> ptrs;
        for (const auto& t : c.text) ptrs.push_back(t.c_str());
        ds = table.createDataSet(c.name, str, space);
        if (rows) ds.write(ptrs.data(), str);
      }
      if (!c.unit.empty()) ds.createAttribute("unit", str, scalar).write(str, c.unit);
      if (!c.description.empty()) ds.createAttribute("description", str, scalar).write(str, c.description);
    }
  });
}

namespace {

/// Elements of a dataspace of `dims`, refused by name when the rank or the count is beyond reason.
std::uint64_t checkedCount(const std::vector<hsize_t>& dims, const std::string& where, std::uint64_t& total) {
  std::uint64_t count = 1;
  for (hsize_t d : dims) {
    if (d && count > maxHdf5Elements() / d)
      throw std::runtime_error(where + " has more elements than this host could hold (its shape overflows)");
    count *= d;
  }
  if (count > maxHdf5Elements() - total)
    throw std::runtime_error(where + " has " + std::to_string(count) + " elements: more than half of this host's memory can hold as doubles");
  total += count;
  return count;
}

std::vector<NamedArray> readArraysHere(const std::string& path, std::map<std::string, std::string>* attributes) {
  H5::Exception::dontPrint();
  std::vector<NamedArray> out;
  std::string where = "'" + path + "'";
  try {
    H5::H5File file(path, H5F_ACC_RDONLY);
    if (attributes) {
      H5::Group root = file.openGroup("/");
      for (int i = 0; i < root.getNumAttrs(); ++i) {
        H5::Attribute a = root.openAttribute(unsigned(i));
        where = "'" + path + "': attribute '" + a.getName() + "'";
        if (a.getTypeClass() != H5T_STRING) continue;  // only text attributes are read
        (*attributes)[a.getName()] = readStringAttribute(a, where);
      }
    }
    std::uint64_t total = 0;
    std::function<void(H5::Group&, const std::string&, int)> walk = [&](H5::Group& g, const std::string& prefix, int depth) {
      if (depth > 32) throw std::runtime_error("'" + path + "': groups nested more than 32 deep at '" + prefix + "'");
      for (hsize_t i = 0; i < g.getNumObjs(); ++i) {
        const std::string name = g.getObjnameByIdx(i);
        where = "'" + path + "': '" + prefix + name + "'";
        const H5G_obj_t kind = g.getObjTypeByIdx(i);
        if (kind == H5G_GROUP) {
          H5::Group sub = g.openGroup(name);
          walk(sub, prefix + name + "/", depth + 1);
          continue;
        }
        if (kind != H5G_DATASET) continue;
        H5::DataSet ds = g.openDataSet(name);
        const H5T_class_t cls = ds.getTypeClass();
        if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw std::runtime_error(where + " does not hold numbers");
        H5::DataSpace space = ds.getSpace();
        const int rank = space.getSimpleExtentNdims();
        if (rank < 0 || rank > 32) throw std::runtime_error(where + " has rank " + std::to_string(rank) + " (at most 32)");
        std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
        space.getSimpleExtentDims(dims.data());
        NamedArray a;
        a.name = prefix + name;
        const std::uint64_t count = checkedCount(dims, where, total);
        for (auto d : dims) a.shape.push_back(d);
        a.data.resize(count);
        if (count) ds.read(a.data.data(), H5::PredType::NATIVE_DOUBLE);
        out.push_back(std::move(a));
      }
    };
    H5::Group root = file.openGroup("/");
    walk(root, "", 0);
  } catch (const H5::Exception& e) {
    throw std::runtime_error("cannot read " + where + ": " + e.getDetailMsg());
  }
  return out;
}

/// The arrays of `path` (and its text attributes), as a reader process returns them.
std::string arraysBytes(const std::string& path, bool withAttributes) {
  std::map<std::string, std::string> attributes;
  const std::vector<NamedArray> arrays = readArraysHere(path, withAttributes ? &attributes : nullptr);
  ByteWriter w;
  w.u64(attributes.size());
  for (const auto& [key, value] : attributes) w.text(key), w.text(value);
  w.u64(arrays.size());
  for (const NamedArray& a : arrays) {
    w.text(a.name);
    w.u64(a.shape.size());
    for (std::uint64_t d : a.shape) w.u64(d);
    w.u64(a.data.size());
    w.raw(a.data.data(), a.data.size() * sizeof(double));
  }
  return w.take();
}
std::string arrays(const std::string& path) { return arraysBytes(path, false); }
std::string arraysAndAttributes(const std::string& path) { return arraysBytes(path, true); }

}  // namespace

std::vector<NamedArray> readArrays(const std::string& path, std::map<std::string, std::string>* attributes) {
  // In a reader process: a file whose metadata crashes or hangs the library is refused, and
  // this process never walks it.
  const std::string bytes = readHdf5InChild(path, attributes ? arraysAndAttributes : arrays);
  ByteReader r(bytes);
  for (std::uint64_t i = 0, n = r.u64(); i < n; ++i) {
    std::string key = r.text();
    (*attributes)[key] = r.text();
  }
  std::vector<NamedArray> out(r.u64());
  for (NamedArray& a : out) {
    a.name = r.text();
    a.shape.resize(r.u64());
    for (std::uint64_t& d : a.shape) d = r.u64();
    a.data.resize(r.u64());
    r.raw(a.data.data(), a.data.size() * sizeof(double));
  }
  return out;
}

}  // namespace tatami::runtime
