// A PNG whose IHDR claims another width and height (with the chunk's CRC recomputed, so libpng believes it):
// for the tests that check sizes are validated against the file before anything is allocated.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>

namespace actlab::testing {

inline std::string png_claiming_size(std::string png, std::uint32_t width, std::uint32_t height) {
  // Signature (8), IHDR length (4), "IHDR" at 12, width at 16, height at 20, ... CRC of "IHDR" + 13 bytes at 29.
  auto put_be32 = [&](size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  };
  put_be32(16, width);
  put_be32(20, height);
  put_be32(29, static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(png.data() + 12), 17)));
  return png;
}

}  // namespace actlab::testing
