// Writes the first-token-repeats task as an HDF5 data set for `tatami train --data`:
// a sequence of 8 tokens from a vocabulary of 8 (one-hot, [N, 8, 8]); the label is 1 when the
// first token appears again later in the sequence, 0 when it does not. Half the sequences of each
// split are of each class. No position is special beyond the first, and the answer depends on
// comparing the first token with every other one: a model must attend across positions.
// Usage: make_task OUTPUT.h5 [TRAIN_COUNT [TEST_COUNT [SEED]]]
#include <cstdint>
#include <iostream>
#include <random>
#include <string>

#include "tatami/runtime/results.h"

namespace {

constexpr int kLength = 8, kVocabulary = 8;

void split(const std::string& prefix, std::uint64_t count, std::mt19937_64& gen, std::vector<tatami::runtime::NamedArray>& out) {
  tatami::runtime::NamedArray images{prefix + "_images", {count, kLength, kVocabulary}, {}};
  tatami::runtime::NamedArray labels{prefix + "_labels", {count}, {}};
  images.data.assign(count * kLength * kVocabulary, 0.0);
  std::uniform_int_distribution<int> token(0, kVocabulary - 1), other(0, kVocabulary - 2), position(1, kLength - 1);
  for (std::uint64_t i = 0; i < count; ++i) {
    const int label = int(i % 2);
    int seq[kLength];
    seq[0] = token(gen);
    for (int p = 1; p < kLength; ++p) {
      const int o = other(gen);  // any token but the first
      seq[p] = o >= seq[0] ? o + 1 : o;
    }
    if (label) {  // one to three repeats of the first token
      std::uniform_int_distribution<int> repeats(1, 3);
      for (int r = repeats(gen); r > 0; --r) seq[position(gen)] = seq[0];
    }
    for (int p = 0; p < kLength; ++p) images.data[(i * kLength + std::uint64_t(p)) * kVocabulary + std::uint64_t(seq[p])] = 1.0;
    labels.data.push_back(label);
  }
  out.push_back(std::move(images));
  out.push_back(std::move(labels));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 5) {
    std::cerr << "usage: make_task OUTPUT.h5 [TRAIN_COUNT [TEST_COUNT [SEED]]]\n";
    return 2;
  }
  try {
    const std::uint64_t train = argc > 2 ? std::stoull(argv[2]) : 16384, test = argc > 3 ? std::stoull(argv[3]) : 2048;
    std::mt19937_64 gen(argc > 4 ? std::stoull(argv[4]) : 20261128);
    std::vector<tatami::runtime::NamedArray> arrays;
    split("train", train, gen, arrays);
    split("test", test, gen, arrays);
    tatami::runtime::writeArrays(argv[1], arrays, {{"task", "first token repeats"}, {"length", "8"}, {"vocabulary", "8"}});
  } catch (const std::exception& e) {
    std::cerr << "make_task: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
