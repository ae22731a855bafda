// PNG through libpng's classic API. libpng reports errors by longjmp; every object that lives
// across setjmp sits in a heap-allocated state struct whose pointer is set before setjmp, so
// nothing the error path touches is an indeterminate local.
#include "actlab/tensorboard/png.h"

#include <png.h>

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <memory>
#include <unistd.h>

#include "actlab/tensorboard/error.h"

namespace actlab::tensorboard {
namespace {

struct ErrorState {
  char message[256] = "unknown libpng error";
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* err = static_cast<ErrorState*>(png_get_error_ptr(png));
  if (err != nullptr) std::snprintf(err->message, sizeof err->message, "%s", msg ? msg : "?");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // ancillary-chunk noise: ignored

int color_type_for(int channels) {
  switch (channels) {
    case 1: return PNG_COLOR_TYPE_GRAY;
    case 2: return PNG_COLOR_TYPE_GRAY_ALPHA;
    case 3: return PNG_COLOR_TYPE_RGB;
    default: return PNG_COLOR_TYPE_RGB_ALPHA;
  }
}

struct WriteState {
  ErrorState err;
  std::string out;
  std::vector<png_bytep> rows;
};

void on_png_write(png_structp png, png_bytep data, png_size_t n) {
  auto* st = static_cast<WriteState*>(png_get_io_ptr(png));
  try {
    st->out.append(reinterpret_cast<const char*>(data), n);
  } catch (...) {
    png_error(png, "out of memory");
  }
}

void on_png_flush(png_structp) {}

struct ReadState {
  ErrorState err;
  std::span<const std::uint8_t> in;
  std::size_t at = 0;
  Image image;
  std::vector<png_bytep> rows;
};

void on_png_read(png_structp png, png_bytep data, png_size_t n) {
  auto* st = static_cast<ReadState*>(png_get_io_ptr(png));
  if (st->in.size() - st->at < n) png_error(png, "unexpected end of file (truncated PNG)");
  std::memcpy(data, st->in.data() + st->at, n);
  st->at += n;
}

std::atomic<std::uint64_t> g_temp_counter{0};

// Every chunk's length against the bytes that follow it, up to IEND, before libpng sees the file: libpng
// allocates a chunk's declared length before reading it (found by fuzz_png: a 78-byte file whose iTXt chunk
// claimed 1.7 GB made it allocate and clear 1.7 GB).
void check_chunk_lengths(std::span<const std::uint8_t> bytes, const std::string& what) {
  std::size_t at = 8;
  while (at + 8 <= bytes.size()) {
    const std::uint64_t length = (std::uint64_t{bytes[at]} << 24) | (std::uint64_t{bytes[at + 1]} << 16) |
                                 (std::uint64_t{bytes[at + 2]} << 8) | std::uint64_t{bytes[at + 3]};
    std::string type(reinterpret_cast<const char*>(bytes.data() + at + 4), 4);
    for (char& c : type)
      if (c < 0x20 || c > 0x7e) c = '?';
    if (length + 12 > bytes.size() - at)
      throw TensorboardError("read_png: " + what + " is damaged: chunk '" + type + "' at byte " + std::to_string(at) +
                             " claims " + std::to_string(length) + " bytes, past the end of the file (" +
                             std::to_string(bytes.size()) + " bytes)");
    if (type == "IEND") return;
    at += static_cast<std::size_t>(length) + 12;
  }
}

// Pixel data the reader will hold at most (after conversion to 8 bits): 1 GiB.
constexpr std::uint64_t kMaxPngPixelBytes = std::uint64_t{1} << 30;
// deflate cannot compress better than 1032:1 (a 258-byte match in at most 2 bits).
constexpr std::uint64_t kMaxDeflateRatio = 1032;

// Before anything is allocated: the width and height in IHDR need at least height * row bytes of decompressed
// data, which a file of `file_size` bytes cannot hold when it exceeds file_size * 1032. A 60-byte file that
// claims 30000 x 30000 RGBA pixels is damaged, not a reason to allocate 3.6 GB.
void check_size_against_data(png_structp png, png_infop info, std::size_t file_size) {
  const std::uint64_t stored = static_cast<std::uint64_t>(png_get_rowbytes(png, info)) *
                               static_cast<std::uint64_t>(png_get_image_height(png, info));
  if (stored > kMaxDeflateRatio * file_size) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "its header claims %ux%u pixels (%llu bytes), more than %zu bytes can hold",
                  static_cast<unsigned>(png_get_image_width(png, info)),
                  static_cast<unsigned>(png_get_image_height(png, info)),
                  static_cast<unsigned long long>(stored), file_size);
    png_error(png, msg);
  }
}

}  // namespace

std::string encode_png(std::span<const std::uint8_t> pixels, std::int64_t height,
                       std::int64_t width, int channels) {
  if (channels < 1 || channels > 4)
    throw TensorboardError("encode_png: channels must be 1, 2, 3 or 4, got " +
                           std::to_string(channels));
  if (height <= 0 || width <= 0 || height > 0x7FFFFFFF || width > 0x7FFFFFFF)
    throw TensorboardError("encode_png: image size must be positive, got " +
                           std::to_string(height) + "x" + std::to_string(width));
  const auto expected = static_cast<std::uint64_t>(height) * static_cast<std::uint64_t>(width) *
                        static_cast<std::uint64_t>(channels);
  if (pixels.size() != expected)
    throw TensorboardError("encode_png: expected " + std::to_string(expected) + " bytes for a " +
                           std::to_string(height) + "x" + std::to_string(width) + "x" +
                           std::to_string(channels) + " image, got " +
                           std::to_string(pixels.size()));

  auto st = std::make_unique<WriteState>();
  const std::size_t row_bytes = static_cast<std::size_t>(width) * channels;
  st->rows.resize(static_cast<std::size_t>(height));
  for (std::int64_t y = 0; y < height; ++y)
    st->rows[y] = const_cast<png_bytep>(pixels.data() + static_cast<std::size_t>(y) * row_bytes);
  st->out.reserve(expected / 2 + 1024);

  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &st->err, on_png_error, on_png_warning);
  if (png == nullptr) throw TensorboardError("encode_png: cannot create libpng write struct");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    throw TensorboardError("encode_png: cannot create libpng info struct");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw TensorboardError(std::string("encode_png: ") + st->err.message);
  }
  png_set_write_fn(png, st.get(), on_png_write, on_png_flush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               color_type_for(channels), PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, st->rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return std::move(st->out);
}

void write_png(const std::string& path, std::span<const std::uint8_t> pixels,
               std::int64_t height, std::int64_t width, int channels) {
  const std::string bytes = encode_png(pixels, height, width, channels);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(g_temp_counter.fetch_add(1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw TensorboardError("write_png: cannot create '" + tmp + "': " + std::strerror(errno));
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  int error = 0;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (error == 0 && ::fsync(fd) != 0 && errno != EINVAL) error = errno;
  if (::close(fd) != 0 && error == 0 && errno != EINTR) error = errno;
  if (error == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(tmp.c_str());
    throw TensorboardError("write_png: cannot write '" + path + "': " + std::strerror(error));
  }
}

Image decode_png(std::span<const std::uint8_t> bytes, const std::string& what) {
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0)
    throw TensorboardError("read_png: " + what + " is not a PNG file (bad signature)");
  check_chunk_lengths(bytes, what);

  auto st = std::make_unique<ReadState>();
  st->in = bytes;
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &st->err, on_png_error, on_png_warning);
  if (png == nullptr) throw TensorboardError("read_png: cannot create libpng read struct");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    throw TensorboardError("read_png: cannot create libpng info struct");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw TensorboardError("read_png: " + what + " is damaged: " + st->err.message);
  }
  png_set_read_fn(png, st.get(), on_png_read);
  png_read_info(png, info);
  check_size_against_data(png, info, bytes.size());
  const int bit_depth = png_get_bit_depth(png, info);
  const int color_type = png_get_color_type(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (bit_depth == 16) png_set_strip_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  Image& img = st->image;
  img.height = png_get_image_height(png, info);
  img.width = png_get_image_width(png, info);
  img.channels = png_get_channels(png, info);
  const std::size_t row_bytes = png_get_rowbytes(png, info);
  if (row_bytes != static_cast<std::size_t>(img.width) * img.channels)
    png_error(png, "unexpected row size after conversion to 8 bits");
  if (static_cast<std::uint64_t>(row_bytes) * static_cast<std::uint64_t>(img.height) > kMaxPngPixelBytes)
    png_error(png, "image larger than 1 GiB");
  img.pixels.resize(row_bytes * static_cast<std::size_t>(img.height));
  st->rows.resize(static_cast<std::size_t>(img.height));
  for (std::int64_t y = 0; y < img.height; ++y) st->rows[y] = img.pixels.data() + y * row_bytes;
  png_read_image(png, st->rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return std::move(st->image);
}

Image read_png(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw TensorboardError("read_png: cannot open '" + path + "': " + std::strerror(errno));
  // The length first: a PNG file is never larger than the pixels it may hold (and /dev/zero is not a PNG).
  f.seekg(0, std::ios::end);
  const std::streamoff length = f.tellg();
  f.seekg(0);
  if (length < 0 || !f) throw TensorboardError("read_png: cannot read '" + path + "' (not a regular file)");
  if (static_cast<std::uint64_t>(length) > kMaxPngPixelBytes)
    throw TensorboardError("read_png: '" + path + "' is larger than 1 GiB (" + std::to_string(length) + " bytes)");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(length));
  if (length > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), length))
    throw TensorboardError("read_png: cannot read '" + path + "'");
  return decode_png(bytes, "'" + path + "'");
}

}  // namespace actlab::tensorboard
