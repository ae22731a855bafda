#include "actlab/tensorboard/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace actlab::tensorboard {
namespace {

// Bit-at-a-time CRC-32C straight from the definition, the oracle for the table-driven code.
std::uint32_t crc32c_bitwise(const unsigned char* p, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  return ~c;
}

TEST(Crc32cTest, CheckValue) { EXPECT_EQ(crc32c("123456789"), 0xE3069283u); }

// RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32cTest, Rfc3720Vectors) {
  std::vector<unsigned char> buf(32, 0x00);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x8A9136AAu);
  buf.assign(32, 0xFF);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<unsigned char>(31 - i);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x113FDB5Cu);
  // An iSCSI read command PDU.
  const unsigned char pdu[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(crc32c(pdu, sizeof pdu), 0xD9963A56u);
}

TEST(Crc32cTest, EmptyInput) { EXPECT_EQ(crc32c("", 0), 0u); }

TEST(Crc32cTest, MatchesBitwiseReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<unsigned char> buf(300);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (std::size_t offset = 0; offset < 8; ++offset)
    for (std::size_t n = 0; n + offset <= buf.size(); n += (n < 40 ? 1 : 37))
      ASSERT_EQ(crc32c(buf.data() + offset, n), crc32c_bitwise(buf.data() + offset, n))
          << "offset " << offset << " length " << n;
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  const std::string s = "The quick brown fox jumps over the lazy dog";
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    const std::uint32_t a = crc32c(s.data(), cut);
    EXPECT_EQ(crc32c_extend(a, s.data() + cut, s.size() - cut), crc32c(s));
  }
  EXPECT_EQ(crc32c(s), 0x22620404u);
}

TEST(Crc32cTest, MaskedCrc) {
  // ((crc >> 15) | (crc << 17)) + 0xa282ead8, worked by hand for crc32c("123456789").
  const std::uint32_t crc = 0xE3069283u;
  const std::uint32_t rotated = (crc >> 15) | (crc << 17);
  EXPECT_EQ(rotated, 0x2507C60Du);
  EXPECT_EQ(mask_crc(crc), 0x2507C60Du + 0xa282ead8u);
  EXPECT_EQ(mask_crc(crc), 0xC78AB0E5u);
  EXPECT_EQ(masked_crc32c("123456789"), 0xC78AB0E5u);
  EXPECT_EQ(mask_crc(0), 0xa282ead8u);
  for (std::uint32_t v : {0u, 1u, 0xFFFFFFFFu, 0x12345678u, crc}) EXPECT_EQ(unmask_crc(mask_crc(v)), v);
}

}  // namespace
}  // namespace actlab::tensorboard
