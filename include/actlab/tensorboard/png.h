// PNG encoding and decoding with libpng, 8 bits per channel.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace actlab::tensorboard {

// An 8-bit image, rows top to bottom, channels interleaved (HWC): 1 gray, 2 gray+alpha,
// 3 RGB, 4 RGBA.
struct Image {
  std::int64_t height = 0;
  std::int64_t width = 0;
  int channels = 0;
  std::vector<std::uint8_t> pixels;  // height * width * channels bytes
};

// Encodes HWC pixels as a PNG file's bytes. Throws TensorboardError on a size mismatch, a
// channel count outside 1..4, or an empty image.
std::string encode_png(std::span<const std::uint8_t> pixels, std::int64_t height,
                       std::int64_t width, int channels);
inline std::string encode_png(const Image& image) {
  return encode_png(image.pixels, image.height, image.width, image.channels);
}

// Writes a PNG file through a temporary name in the same folder and a rename, so a crash never
// leaves half a file under `path`.
void write_png(const std::string& path, std::span<const std::uint8_t> pixels,
               std::int64_t height, std::int64_t width, int channels);
inline void write_png(const std::string& path, const Image& image) {
  write_png(path, image.pixels, image.height, image.width, image.channels);
}

// Reads a PNG file into 8-bit samples: palette images become RGB (RGBA with transparency),
// gray below 8 bits is expanded, 16-bit samples keep their high byte. Throws TensorboardError
// naming the file for a missing file, a non-PNG file or a damaged one.
Image read_png(const std::string& path);
Image decode_png(std::span<const std::uint8_t> bytes, const std::string& what = "PNG data");

}  // namespace actlab::tensorboard
