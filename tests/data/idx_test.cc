// IDX reader: plain and gzip files, and every way a file can be malformed.
#include "actlab/data/idx.h"

#include <gtest/gtest.h>

#include "actlab/core/error.h"
#include "data/data_test_util.h"

namespace actlab::data {
namespace {

using actlab::testing::error_of;
using actlab::testing::ScratchDir;
using actlab::testing::write_raw;

// Header bytes by hand: 00 00 type rank, then big-endian dims.
std::vector<uint8_t> header(uint8_t type, std::vector<uint32_t> dims, int rank = -1) {
  std::vector<uint8_t> h = {0, 0, type, static_cast<uint8_t>(rank < 0 ? dims.size() : rank)};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<uint8_t>(d >> s));
  return h;
}

std::vector<uint8_t> pattern(size_t n, int seed = 7) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * 37 + seed * 11) % 251);
  return v;
}

std::vector<uint8_t> concat_bytes(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string read_error(const ScratchDir& d, const std::string& name, const std::vector<uint8_t>& bytes) {
  write_raw(d.file(name), bytes);
  return error_of<IOError>([&] { read_idx(d.file(name)); });
}

TEST(IdxTest, ReadsPlainFile) {
  ScratchDir d;
  auto payload = pattern(2 * 3 * 4);
  write_raw(d.file("a.idx"), concat_bytes(header(0x08, {2, 3, 4}), payload));
  IdxArray a = read_idx(d.file("a.idx"));
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(a.data, payload);
}

TEST(IdxTest, ReadsGzipFileWhateverItsName) {
  ScratchDir d;
  auto payload = pattern(5 * 7, 3);
  auto raw = concat_bytes(header(0x08, {5, 7}), payload);
  auto gz = gzip_compress(raw.data(), raw.size());
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(gz[0], 0x1f);
  EXPECT_EQ(gz[1], 0x8b);
  write_raw(d.file("b.idx"), gz);  // no .gz suffix: detected by the magic
  IdxArray a = read_idx(d.file("b.idx"));
  EXPECT_EQ(a.dims, (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(a.data, payload);
}

TEST(IdxTest, ReadsMultiMemberGzip) {
  ScratchDir d;
  auto payload = pattern(1000, 5);
  auto raw = concat_bytes(header(0x08, {1000}), payload);
  auto gz1 = gzip_compress(raw.data(), 300);
  auto gz2 = gzip_compress(raw.data() + 300, raw.size() - 300);
  write_raw(d.file("m.gz"), concat_bytes(gz1, gz2));
  IdxArray a = read_idx(d.file("m.gz"));
  EXPECT_EQ(a.data, payload);
}

TEST(IdxTest, LargeGzipStreamsInChunks) {
  ScratchDir d;
  auto payload = pattern(3'000'000, 9);  // larger than the reader's first buffer and the zlib chunk
  auto raw = concat_bytes(header(0x08, {3000, 1000}), payload);
  auto gz = gzip_compress(raw.data(), raw.size(), 1);
  write_raw(d.file("big.gz"), gz);
  IdxArray a = read_idx(d.file("big.gz"));
  EXPECT_EQ(a.dims, (std::vector<int64_t>{3000, 1000}));
  EXPECT_EQ(a.data, payload);
}

TEST(IdxTest, EncodeMatchesHandWrittenBytesAndRoundTrips) {
  ScratchDir d;
  IdxArray a{{3, 2}, pattern(6)};
  EXPECT_EQ(encode_idx(a), concat_bytes(header(0x08, {3, 2}), a.data));
  for (bool gz : {false, true}) {
    std::string p = d.file(gz ? "w.gz" : "w");
    write_idx(p, a, gz);
    IdxArray b = read_idx(p);
    EXPECT_EQ(b.dims, a.dims);
    EXPECT_EQ(b.data, a.data);
  }
  EXPECT_THROW(encode_idx(IdxArray{{3, 2}, pattern(5)}), ValueError);
  EXPECT_THROW(encode_idx(IdxArray{{}, {}}), ValueError);
}

TEST(IdxTest, RejectsWrongMagic) {
  ScratchDir d;
  auto bytes = concat_bytes(header(0x08, {4}), pattern(4));
  bytes[0] = 0x12;
  bytes[1] = 0x34;
  std::string msg = read_error(d, "x", bytes);
  EXPECT_NE(msg.find("not an IDX file: " + d.file("x")), std::string::npos) << msg;
  EXPECT_NE(msg.find("12 34"), std::string::npos) << msg;
  EXPECT_NE(read_error(d, "empty", {}).find("not an IDX file"), std::string::npos);
  EXPECT_NE(read_error(d, "short", {0, 0}).find("not an IDX file"), std::string::npos);
}

TEST(IdxTest, RejectsOtherElementTypes) {
  ScratchDir d;
  for (uint8_t type : {0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00}) {
    std::string msg = read_error(d, "t", concat_bytes(header(type, {4}), pattern(4 * 8)));
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", type);
    EXPECT_NE(msg.find(std::string("unsupported IDX element type ") + hex), std::string::npos) << msg;
    EXPECT_NE(msg.find("0x08"), std::string::npos) << msg;
  }
}

TEST(IdxTest, RejectsRankZeroAndFive) {
  ScratchDir d;
  std::string m0 = read_error(d, "r0", header(0x08, {}, 0));
  EXPECT_NE(m0.find("unsupported IDX rank 0"), std::string::npos) << m0;
  std::string m5 = read_error(d, "r5", concat_bytes(header(0x08, {1, 1, 1, 1, 1}), {7}));
  EXPECT_NE(m5.find("unsupported IDX rank 5"), std::string::npos) << m5;
  // rank 4 is fine
  IdxArray a = (write_raw(d.file("r4"), concat_bytes(header(0x08, {1, 2, 1, 2}), pattern(4))), read_idx(d.file("r4")));
  EXPECT_EQ(a.dims.size(), 4u);
}

TEST(IdxTest, RejectsTruncatedHeaderAndPayload) {
  ScratchDir d;
  auto h = header(0x08, {10, 10});
  std::string mh = read_error(d, "h", std::vector<uint8_t>(h.begin(), h.begin() + 7));
  EXPECT_NE(mh.find("is truncated"), std::string::npos) << mh;
  std::string mp = read_error(d, "p", concat_bytes(h, pattern(99)));
  EXPECT_NE(mp.find("is truncated"), std::string::npos) << mp;
  EXPECT_NE(mp.find("need 100 data bytes but the file holds 99"), std::string::npos) << mp;
  std::string ml = read_error(d, "l", concat_bytes(h, pattern(101)));
  EXPECT_NE(ml.find("longer than its header says"), std::string::npos) << ml;
  EXPECT_NE(ml.find("holds 101"), std::string::npos) << ml;
}

TEST(IdxTest, RejectsHugeAndZeroDimensionsBeforeAllocating) {
  ScratchDir d;
  // product 2^128-ish: overflows int64
  std::string mo = read_error(d, "o", concat_bytes(header(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}), {1, 2}));
  EXPECT_NE(mo.find("exceeds the limit"), std::string::npos) << mo;
  // 65536 * 65536 * 3 = 12 GiB > the 8 GiB limit, without overflowing
  std::string ml = read_error(d, "l", concat_bytes(header(0x08, {65536, 65536, 3}), {1}));
  EXPECT_NE(ml.find("exceeds the limit"), std::string::npos) << ml;
  // 4 GiB promised, 3 bytes present: rejected from the file length (plain) ...
  std::string mt = read_error(d, "t", concat_bytes(header(0x08, {65536, 65536}), {1, 2, 3}));
  EXPECT_NE(mt.find("is truncated"), std::string::npos) << mt;
  // ... and from the stream (gzip), which never grows the buffer past what it has decompressed
  auto raw = concat_bytes(header(0x08, {65536, 65536}), {1, 2, 3});
  std::string mg = read_error(d, "g", gzip_compress(raw.data(), raw.size()));
  EXPECT_NE(mg.find("is truncated"), std::string::npos) << mg;
  EXPECT_NE(mg.find("holds 3"), std::string::npos) << mg;
  std::string mz = read_error(d, "z", header(0x08, {3, 0}));
  EXPECT_NE(mz.find("empty dimension"), std::string::npos) << mz;
}

TEST(IdxTest, RejectsTruncatedGzip) {
  ScratchDir d;
  auto raw = concat_bytes(header(0x08, {50, 40}), pattern(2000));
  auto gz = gzip_compress(raw.data(), raw.size());
  // Cut off the 8-byte trailer (CRC + length) only, then half the stream.
  for (size_t keep : {gz.size() - 4, gz.size() - 8, gz.size() / 2, size_t{12}}) {
    std::string msg = read_error(d, "cut.gz", std::vector<uint8_t>(gz.begin(), gz.begin() + keep));
    EXPECT_NE(msg.find("truncated"), std::string::npos) << "keep " << keep << ": " << msg;
  }
}

TEST(IdxTest, RejectsGzipLongerThanHeaderSays) {
  ScratchDir d;
  auto raw = concat_bytes(header(0x08, {4}), pattern(6));
  std::string msg = read_error(d, "long.gz", gzip_compress(raw.data(), raw.size()));
  EXPECT_NE(msg.find("longer than its header says"), std::string::npos) << msg;
  EXPECT_NE(msg.find("holds 6"), std::string::npos) << msg;
}

TEST(IdxTest, RejectsCorruptGzipAndTrailingGarbage) {
  ScratchDir d;
  auto raw = concat_bytes(header(0x08, {400}), pattern(400));
  auto gz = gzip_compress(raw.data(), raw.size());
  auto bad = gz;
  bad[bad.size() - 6] ^= 0xff;  // the stored CRC-32
  EXPECT_NE(read_error(d, "crc.gz", bad).find("cannot decompress"), std::string::npos);
  std::string mg = read_error(d, "garbage.gz", concat_bytes(gz, {1, 2, 3, 4, 5}));
  EXPECT_NE(mg.find("cannot decompress"), std::string::npos) << mg;
}

TEST(IdxTest, MissingFileIsIOError) {
  ScratchDir d;
  std::string msg = error_of<IOError>([&] { read_idx(d.file("nope")); });
  EXPECT_NE(msg.find("cannot open " + d.file("nope")), std::string::npos) << msg;
}

}  // namespace
}  // namespace actlab::data
