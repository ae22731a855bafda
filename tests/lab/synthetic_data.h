// A small MNIST-format data set made on the fly: four classes of 28x28 textures (horizontal or vertical
// stripes of period 2 or 4) with noise, so that the seed's CNN can learn it in a few hundred steps.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace actlab::testing {

inline void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::ofstream f(path, std::ios::binary);
  const unsigned char magic[4] = {0, 0, 0x08, static_cast<unsigned char>(dims.size())};
  f.write(reinterpret_cast<const char*>(magic), 4);
  for (uint32_t d : dims) {
    const unsigned char be[4] = {static_cast<unsigned char>(d >> 24), static_cast<unsigned char>(d >> 16),
                                 static_cast<unsigned char>(d >> 8), static_cast<unsigned char>(d)};
    f.write(reinterpret_cast<const char*>(be), 4);
  }
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

inline void write_textures(const std::string& dir, uint32_t n_train, uint32_t n_test, unsigned seed = 1) {
  std::filesystem::create_directories(dir);
  std::mt19937 rng(seed);
  auto make = [&](const std::string& prefix, uint32_t n) {
    std::vector<uint8_t> images(static_cast<size_t>(n) * 28 * 28), labels(n);
    for (uint32_t i = 0; i < n; ++i) {
      uint8_t c = static_cast<uint8_t>(rng() % 4);
      labels[i] = c;
      int period = c < 2 ? 2 : 4;
      bool vertical = c % 2 == 1;
      int phase = static_cast<int>(rng() % static_cast<unsigned>(period));
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
          int t = ((vertical ? x : y) + phase) % period;
          int v = (t < period / 2 ? 200 : 40) + static_cast<int>(rng() % 50) - 25;
          images[(static_cast<size_t>(i) * 28 + y) * 28 + x] = static_cast<uint8_t>(std::clamp(v, 0, 255));
        }
    }
    write_idx(dir + "/" + prefix + "-images-idx3-ubyte", {n, 28, 28}, images);
    write_idx(dir + "/" + prefix + "-labels-idx1-ubyte", {n}, labels);
  };
  make("train", n_train);
  make("t10k", n_test);
}

}  // namespace actlab::testing
