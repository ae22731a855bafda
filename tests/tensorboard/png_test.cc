#include "actlab/tensorboard/png.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "actlab/tensorboard/error.h"
#include "actlab/tensorboard/summary.h"
#include "event_file_test_util.h"
#include "png_test_util.h"

namespace actlab::tensorboard {
namespace {

using actlab_test::tb_util::read_file;
using actlab_test::tb_util::ScratchDir;

std::vector<std::uint8_t> random_pixels(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const TensorboardError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PngTest, RoundTripEveryChannelCount) {
  ScratchDir dir;
  for (int channels = 1; channels <= 4; ++channels) {
    const std::int64_t h = 7, w = 13;
    const auto pixels = random_pixels(h * w * channels, 100 + channels);
    const std::string path = dir.str("img" + std::to_string(channels) + ".png");
    write_png(path, pixels, h, w, channels);
    const Image img = read_png(path);
    EXPECT_EQ(img.height, h);
    EXPECT_EQ(img.width, w);
    EXPECT_EQ(img.channels, channels);
    EXPECT_EQ(img.pixels, pixels) << channels << " channels";
    // The file starts with the PNG signature.
    EXPECT_EQ(read_file(path).substr(1, 3), "PNG");
  }
}

TEST(PngTest, WriteReplacesThroughRenameAndLeavesNoTemporaries) {
  ScratchDir dir;
  const std::string path = dir.str("out.png");
  write_png(path, std::vector<std::uint8_t>(12, 10), 2, 2, 3);
  write_png(path, std::vector<std::uint8_t>(4, 200), 2, 2, 1);
  EXPECT_EQ(read_png(path).pixels, std::vector<std::uint8_t>(4, 200));
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "out.png");
  }
  EXPECT_EQ(files, 1);
  EXPECT_NE(error_of([&] { write_png(dir.str("no/such/dir/x.png"), std::vector<std::uint8_t>(1, 0), 1, 1, 1); })
                .find("write_png: cannot create"),
            std::string::npos);
}

TEST(PngTest, ClearErrorsOnBadFiles) {
  ScratchDir dir;
  const std::string missing = dir.str("missing.png");
  std::string msg = error_of([&] { read_png(missing); });
  EXPECT_NE(msg.find("read_png: cannot open '" + missing + "'"), std::string::npos) << msg;

  const std::string text = dir.str("text.png");
  { std::ofstream(text) << "this is not an image at all"; }
  msg = error_of([&] { read_png(text); });
  EXPECT_NE(msg.find("is not a PNG file"), std::string::npos) << msg;
  EXPECT_NE(msg.find(text), std::string::npos) << msg;

  const std::string empty = dir.str("empty.png");
  { std::ofstream f(empty); }
  EXPECT_NE(error_of([&] { read_png(empty); }).find("is not a PNG file"), std::string::npos);

  // A real PNG cut in half, and one with a flipped byte inside the image data.
  const std::string good = encode_png(random_pixels(32 * 32 * 3, 5), 32, 32, 3);
  const std::string truncated = dir.str("truncated.png");
  { std::ofstream(truncated, std::ios::binary) << good.substr(0, good.size() / 2); }
  msg = error_of([&] { read_png(truncated); });
  EXPECT_NE(msg.find("read_png: '" + truncated + "' is damaged"), std::string::npos) << msg;

  std::string corrupt_bytes = good;
  corrupt_bytes[good.size() / 2] ^= 0x5A;
  const std::string corrupt = dir.str("corrupt.png");
  { std::ofstream(corrupt, std::ios::binary) << corrupt_bytes; }
  msg = error_of([&] { read_png(corrupt); });
  EXPECT_NE(msg.find("is damaged"), std::string::npos) << msg;
}

// Sizes in the header are checked against the file before the pixels are allocated (issue 6): a 70-byte file that
// claims 30000 x 30000 RGBA pixels (3.6 GB) is damaged, and so is one that merely claims more than deflate can
// unpack from its bytes. A header within what the bytes can hold still reads.
TEST(PngTest, HeaderSizesAreCheckedAgainstTheFile) {
  const std::string small = encode_png(std::vector<std::uint8_t>(4, 9), 1, 1, 4);
  const std::string huge = actlab::testing::png_claiming_size(small, 30000, 30000);
  const std::string msg = error_of([&] { decode_png(std::span(reinterpret_cast<const std::uint8_t*>(huge.data()), huge.size()), "huge.png"); });
  EXPECT_EQ(msg, "read_png: huge.png is damaged: its header claims 30000x30000 pixels (3600000000 bytes), more than " +
                     std::to_string(huge.size()) + " bytes can hold") << msg;
  // 1032 bytes of pixels per byte of file is the most deflate can give: one pixel more is refused.
  const std::uint32_t width = static_cast<std::uint32_t>(1032 * small.size() / 4 / 1) + 1;
  const std::string wide = actlab::testing::png_claiming_size(small, width, 1);
  EXPECT_NE(error_of([&] { decode_png(std::span(reinterpret_cast<const std::uint8_t*>(wide.data()), wide.size())); })
                .find("more than"), std::string::npos);
  // The real 1x1 image reads.
  EXPECT_EQ(decode_png(std::span(reinterpret_cast<const std::uint8_t*>(small.data()), small.size())).pixels,
            std::vector<std::uint8_t>(4, 9));
}

// Found by fuzz_png: libpng allocates an ancillary chunk's declared length before reading it, so a 78-byte file
// whose iTXt chunk claimed 1.7 GB cost 1.7 GB and seconds of memset. Chunk lengths are checked against the file.
TEST(PngTest, ChunkLengthsAreCheckedAgainstTheFile) {
  std::string png = encode_png(std::vector<std::uint8_t>(4, 9), 1, 1, 4);
  // After the signature (8) and IHDR (8 + 13 + 4): a chunk "iTXt" of length 0x69434350 with nothing behind it.
  std::string bad = png.substr(0, 33) + std::string("\x69\x43\x43\x50iTXt", 8) + png.substr(33);
  const std::string msg = error_of([&] { decode_png(std::span(reinterpret_cast<const std::uint8_t*>(bad.data()), bad.size()), "itxt.png"); });
  EXPECT_EQ(msg, "read_png: itxt.png is damaged: chunk 'iTXt' at byte 33 claims 1766015824 bytes, past the end of the file (" +
                     std::to_string(bad.size()) + " bytes)") << msg;
}

TEST(PngTest, EncodeRejectsBadArguments) {
  const std::vector<std::uint8_t> px(12, 0);
  EXPECT_NE(error_of([&] { encode_png(px, 2, 2, 5); }).find("channels must be 1, 2, 3 or 4"),
            std::string::npos);
  EXPECT_NE(error_of([&] { encode_png(px, 2, 3, 3); }).find("expected 18 bytes"),
            std::string::npos);
  EXPECT_NE(error_of([&] { encode_png({}, 0, 3, 3); }).find("must be positive"),
            std::string::npos);
}

// ---- image conversion (PyTorch's image(): convert_to_HWC, scale, make_grid) ----

TEST(TensorboardImageTest, FloatScalingTruncatesAfterClipping) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> v = {0.0f, 0.5f, 0.999f, 1.0f, 1.5f, -0.1f, nan, 0.2f, 1.0f / 255.0f};
  const Image img = make_image(std::span<const float>(v), {1, 9}, "HW");
  ASSERT_EQ(img.channels, 3);
  std::vector<int> red;
  for (int x = 0; x < 9; ++x) red.push_back(img.pixels[x * 3]);
  // 0.5*255 = 127.5 -> 127; 0.999*255 = 254.745 -> 254; 0.2f*255 = 51.0000007 -> 51.
  EXPECT_EQ(red, (std::vector<int>{0, 127, 254, 255, 255, 0, 0, 51, 1}));
}

TEST(TensorboardImageTest, LayoutsAgree) {
  // The same 2x3 RGB image as CHW, HWC and (transposed) WHC / CWH.
  std::vector<std::uint8_t> chw(18), hwc(18), whc(18), cwh(18);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) {
        const auto v = static_cast<std::uint8_t>(100 * c + 10 * y + x);
        chw[(c * 2 + y) * 3 + x] = v;
        hwc[(y * 3 + x) * 3 + c] = v;
        whc[(x * 2 + y) * 3 + c] = v;
        cwh[(c * 3 + x) * 2 + y] = v;
      }
  const Image a = make_image(std::span<const std::uint8_t>(chw), {3, 2, 3}, "CHW");
  const Image b = make_image(std::span<const std::uint8_t>(hwc), {2, 3, 3}, "HWC");
  const Image c = make_image(std::span<const std::uint8_t>(whc), {3, 2, 3}, "whc");
  const Image d = make_image(std::span<const std::uint8_t>(cwh), {3, 3, 2}, "CWH");
  EXPECT_EQ(a.height, 2);
  EXPECT_EQ(a.width, 3);
  EXPECT_EQ(a.pixels, hwc);
  EXPECT_EQ(b.pixels, hwc);
  EXPECT_EQ(c.pixels, hwc);
  EXPECT_EQ(d.pixels, hwc);
}

TEST(TensorboardImageTest, OneChannelBecomesRgbAndAlphaIsKept) {
  const std::vector<std::uint8_t> gray = {1, 2, 3, 4};
  const Image g = make_image(std::span<const std::uint8_t>(gray), {1, 2, 2}, "CHW");
  EXPECT_EQ(g.channels, 3);
  EXPECT_EQ(g.pixels, (std::vector<std::uint8_t>{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}));
  const std::vector<std::uint8_t> rgba(2 * 2 * 4, 9);
  const Image a = make_image(std::span<const std::uint8_t>(rgba), {2, 2, 4}, "HWC");
  EXPECT_EQ(a.channels, 4);
}

TEST(TensorboardImageTest, GridTilesEightPerRowWithoutPadding) {
  // 10 one-channel 3x5 images, image i filled with 20*i + 1.
  const int n = 10, h = 3, w = 5;
  std::vector<std::uint8_t> batch(n * h * w);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < h * w; ++k) batch[i * h * w + k] = static_cast<std::uint8_t>(20 * i + 1);
  const Image grid = make_image(std::span<const std::uint8_t>(batch), {n, 1, h, w}, "NCHW");
  EXPECT_EQ(grid.height, 2 * h);
  EXPECT_EQ(grid.width, 8 * w);
  EXPECT_EQ(grid.channels, 3);
  for (int y = 0; y < grid.height; ++y)
    for (int x = 0; x < grid.width; ++x) {
      const int tile = (y / h) * 8 + x / w;
      const int want = tile < n ? 20 * tile + 1 : 0;
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(grid.pixels[(y * grid.width + x) * 3 + c], want) << y << "," << x;
    }
  // Fewer than 8 images: one row, as wide as the batch.
  const Image row = make_image(std::span<const std::uint8_t>(batch).first(3 * h * w), {3, h, w, 1},
                               "NHWC");
  EXPECT_EQ(row.height, h);
  EXPECT_EQ(row.width, 3 * w);
}

TEST(TensorboardImageTest, ClearErrors) {
  const std::vector<float> v(12, 0.5f);
  EXPECT_NE(error_of([&] { make_image(std::span<const float>(v), {3, 2, 2}, "CHX"); })
                .find("dataformats must order the axes"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_image(std::span<const float>(v), {3, 2, 2}, "CCH"); })
                .find("dataformats"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_image(std::span<const float>(v), {3, 4}, "CHW"); })
                .find("size of input tensor and input format are different"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_image(std::span<const float>(v), {3, 2, 3}, "CHW"); })
                .find("holds 18 elements but the data has 12"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_image(std::span<const float>(v), {1, 2, 3, 2}, "NHWC"); })
                .find("1 or 3 channels"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_image(std::span<const float>(v), {1, 12, 1}, "HWC"); })
                .find("(no error)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_image(std::span<const float>(v), {2, 1, 6}, "HWC"); })
                .find("1, 2, 3 or 4 channels"),
            std::string::npos);
}

}  // namespace
}  // namespace actlab::tensorboard
