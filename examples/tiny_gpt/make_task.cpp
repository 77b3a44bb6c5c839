// Writes the repeat-the-pattern task for the model zoo's tiny GPT (models/tiny_gpt.onnx) as an
// HDF5 data set for `tatami train --data`: sequences of 8 tokens from a vocabulary of 16 whose
// first 3 tokens are drawn at random and then repeat (a b c a b c a b); the label of each position
// is the next token (the one after the last position continues the pattern). The next token of
// positions 0 and 1 cannot be known; from position 2 on it is the token three back, which a causal
// model finds only by attending to it. A model that learned the task reaches a mean cross-entropy
// of 2/8 ln 16 = 0.693 (the two unknowable positions at chance, the six others certain) from ln 16
// = 2.77 at chance, and a token accuracy of 6/8 + 2/8 x 1/16 = 0.766.
// Usage: make_sequence_task OUTPUT.h5 [TRAIN_COUNT [TEST_COUNT [SEED]]]
#include <cstdint>
#include <iostream>
#include <random>
#include <string>

#include "tatami/runtime/results.h"

namespace {

constexpr int kLength = 8, kVocabulary = 16, kPeriod = 3;

void split(const std::string& prefix, std::uint64_t count, std::mt19937_64& gen, std::vector<tatami::runtime::NamedArray>& out) {
  tatami::runtime::NamedArray tokens{prefix + "_images", {count, kLength}, {}};
  tatami::runtime::NamedArray next{prefix + "_labels", {count, kLength}, {}};
  for (std::uint64_t i = 0; i < count; ++i) {
    int pattern[kPeriod];
    for (int& t : pattern) t = int(gen() % kVocabulary);
    for (int p = 0; p < kLength; ++p) {
      tokens.data.push_back(pattern[p % kPeriod]);
      next.data.push_back(pattern[(p + 1) % kPeriod]);
    }
  }
  out.push_back(std::move(tokens));
  out.push_back(std::move(next));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 5) {
    std::cerr << "usage: make_sequence_task OUTPUT.h5 [TRAIN_COUNT [TEST_COUNT [SEED]]]\n";
    return 2;
  }
  try {
    const std::uint64_t train = argc > 2 ? std::stoull(argv[2]) : 8192, test = argc > 3 ? std::stoull(argv[3]) : 1024;
    std::mt19937_64 gen(argc > 4 ? std::stoull(argv[4]) : 20261206);
    std::vector<tatami::runtime::NamedArray> arrays;
    split("train", train, gen, arrays);
    split("test", test, gen, arrays);
    tatami::runtime::writeArrays(argv[1], arrays, {{"task", "repeat the pattern"}, {"length", "8"}, {"vocabulary", "16"}, {"period", "3"}});
  } catch (const std::exception& e) {
    std::cerr << "make_sequence_task: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
