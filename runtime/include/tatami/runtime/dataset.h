// Training data: IDX files (the MNIST family's format), plain or gzip-compressed, and the
// Fashion-MNIST files that Debian's dataset-fashion-mnist installs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tatami::runtime {

/// An IDX file: its dimensions and its unsigned-byte contents.
struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;
};

/// Reads an IDX file of unsigned bytes (type 0x08), gzip-compressed or not. Throws
/// std::runtime_error naming the file and the problem.
IdxArray readIdx(const std::string& path);

/// Images as FP32 in [0, 1] (row-major, one image per row) and labels: one per example, or for a
/// sequence model one per position (`labelsPerExample`, example-major).
struct LabelledImages {
  std::size_t count = 0, pixels = 0, labelsPerExample = 1;
  std::vector<float> images;
  std::vector<std::uint8_t> labels;
};

/// A split of a dataset: `name` is "fashion-mnist" (Debian's files), a folder holding
/// train-images-idx3-ubyte[.gz] and the like, or an HDF5 file (*.h5) with datasets
/// train_images [N, ...], train_labels [N] (or [N, T]: a label per position of a sequence),
/// test_images, test_labels (images as stored, e.g. token ids);
/// `split` is "train" or "t10k".
LabelledImages loadImageDataset(const std::string& name, const std::string& split);

}  // namespace tatami::runtime
