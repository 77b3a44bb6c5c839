// IDX reading with zlib's gzip support (a plain file reads through the same interface).
#include "tatami/runtime/dataset.h"

#include <cmath>
#include <limits>

#include "tatami/runtime/results.h"

#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <stdexcept>

namespace tatami::runtime {

namespace {

std::vector<std::uint8_t> readAll(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open data file '" + path + "'");
  std::vector<std::uint8_t> out;
  std::uint8_t buf[1 << 16];
  // A compressed file may expand without bound: stop at what the host could hold.
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const std::uint64_t limit = pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) / 2 : (std::uint64_t(1) << 32);
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      const std::string why = gzerror(f, &code);
      gzclose(f);
      throw std::runtime_error("data file '" + path + "' is not readable: " + why);
    }
    if (n == 0) break;
    if (out.size() + std::size_t(n) > limit) {
      gzclose(f);
      throw std::runtime_error("data file '" + path + "' expands to more than half of this host's memory");
    }
    out.insert(out.end(), buf, buf + n);
  }
  gzclose(f);
  return out;
}

bool exists(const std::string& p) { return std::ifstream(p).good(); }

}  // namespace

IdxArray readIdx(const std::string& path) {
  const std::vector<std::uint8_t> b = readAll(path);
  if (b.size() < 4 || b[0] != 0 || b[1] != 0)
    throw std::runtime_error("'" + path + "' is not an IDX file (bad magic number)");
  if (b[2] != 0x08) throw std::runtime_error("'" + path + "': only unsigned-byte IDX data (type 0x08) is supported");
  const std::size_t rank = b[3];
  if (rank == 0 || b.size() < 4 + 4 * rank) throw std::runtime_error("'" + path + "': truncated IDX header");
  IdxArray a;
  std::size_t count = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint32_t v = std::uint32_t(b[4 + 4 * d]) << 24 | std::uint32_t(b[5 + 4 * d]) << 16 |
                            std::uint32_t(b[6 + 4 * d]) << 8 | std::uint32_t(b[7 + 4 * d]);
    a.dims.push_back(v);
    if (v && count > b.size() / v) throw std::runtime_error("'" + path + "': header promises more data than the file has");
    count *= v;
  }
  const std::size_t header = 4 + 4 * rank;
  if (b.size() != header + count)
    throw std::runtime_error("'" + path + "': header promises " + std::to_string(count) + " bytes of data, the file has " +
                             std::to_string(b.size() - header));
  a.data.assign(b.begin() + long(header), b.end());
  return a;
}

LabelledImages loadImageDataset(const std::string& name, const std::string& split) {
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".h5") == 0) {
    // An HDF5 file with <split>_images [N, ...] (values as stored) and <split>_labels [N].
    const std::string prefix = split == "t10k" ? "test" : split;
    const std::vector<NamedArray> arrays = readArrays(name);
    const NamedArray *images = nullptr, *labels = nullptr;
    for (const auto& a : arrays) {
      if (a.name == prefix + "_images") images = &a;
      if (a.name == prefix + "_labels") labels = &a;
    }
    if (!images || !labels)
      throw std::runtime_error("'" + name + "' needs datasets '" + prefix + "_images' [N, ...] and '" + prefix + "_labels' [N] or [N, T]");
    if (images->shape.size() < 2 || labels->shape.empty() || labels->shape.size() > 2 || images->shape[0] != labels->shape[0])
      throw std::runtime_error("'" + name + "': " + prefix + "_images and " + prefix + "_labels do not match");
    LabelledImages d;
    d.count = images->shape[0];
    d.labelsPerExample = labels->shape.size() == 2 ? labels->shape[1] : 1;
    if (d.labelsPerExample == 0) throw std::runtime_error("'" + name + "': " + prefix + "_labels has no label per example");
    // Values per example from the shape, so that a split of no examples has its width too.
    d.pixels = 1;
    for (std::size_t k = 1; k < images->shape.size(); ++k) {
      if (images->shape[k] && d.pixels > std::numeric_limits<std::size_t>::max() / images->shape[k])
        throw std::runtime_error("'" + name + "': " + prefix + "_images has more values per example than memory can hold");
      d.pixels *= images->shape[k];
    }
    d.images.assign(images->data.begin(), images->data.end());
    for (double l : labels->data) {
      if (l < 0 || l > 255 || l != std::floor(l)) throw std::runtime_error("'" + name + "': label " + std::to_string(l) + " is not a class number 0..255");
      d.labels.push_back(std::uint8_t(l));
    }
    return d;
  }
  const std::string dir = name == "fashion-mnist" ? "/usr/share/datasets/fashion-mnist" : name;
  const auto find = [&](const std::string& stem) {
    for (const std::string& p : {dir + "/" + stem + ".gz", dir + "/" + stem})
      if (exists(p)) return p;
    throw std::runtime_error("data file '" + dir + "/" + stem + "[.gz]' not found" +
                             (name == "fashion-mnist" ? " (apt-get install dataset-fashion-mnist)" : ""));
  };
  const IdxArray images = readIdx(find(split + "-images-idx3-ubyte"));
  const IdxArray labels = readIdx(find(split + "-labels-idx1-ubyte"));
  if (images.dims.size() != 3 || labels.dims.size() != 1 || images.dims[0] != labels.dims[0])
    throw std::runtime_error("'" + dir + "': images " + std::to_string(images.dims.size() == 3 ? images.dims[0] : 0) +
                             " and labels " + std::to_string(labels.dims.empty() ? 0 : labels.dims[0]) + " do not match");
  LabelledImages d;
  d.count = images.dims[0];
  d.pixels = std::size_t(images.dims[1]) * images.dims[2];
  d.images.resize(images.data.size());
  for (std::size_t i = 0; i < images.data.size(); ++i) d.images[i] = float(images.data[i]) / 255.0f;
  d.labels = labels.data;
  return d;
}

}  // namespace tatami::runtime
