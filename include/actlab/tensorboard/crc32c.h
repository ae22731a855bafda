// CRC-32C (Castagnoli), as used by TFRecord framing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace actlab::tensorboard {

// Extends `crc` (the CRC of earlier bytes; 0 to start) over `n` more bytes. Polynomial
// 0x1EDC6F41 (reflected 0x82F63B78), initial value and final xor 0xFFFFFFFF, so that
// crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t n) noexcept;

inline std::uint32_t crc32c(const void* data, std::size_t n) noexcept {
  return crc32c_extend(0, data, n);
}
inline std::uint32_t crc32c(std::string_view bytes) noexcept {
  return crc32c_extend(0, bytes.data(), bytes.size());
}

// TFRecord's masked CRC: rotate right by 15 bits and add a constant, so that a CRC stored
// inside CRC-protected data does not defeat the check.
constexpr std::uint32_t kCrcMaskDelta = 0xa282ead8u;
constexpr std::uint32_t mask_crc(std::uint32_t crc) noexcept {
  return ((crc >> 15) | (crc << 17)) + kCrcMaskDelta;
}
constexpr std::uint32_t unmask_crc(std::uint32_t masked) noexcept {
  const std::uint32_t rot = masked - kCrcMaskDelta;
  return (rot >> 17) | (rot << 15);
}
inline std::uint32_t masked_crc32c(std::string_view bytes) noexcept {
  return mask_crc(crc32c(bytes));
}

}  // namespace actlab::tensorboard
