// libFuzzer target: the checkpoint loader. The input is a file's bytes plus one mode byte at the end. Random bytes
// almost never carry a valid CRC-32, so when the mode byte is odd the target first writes the right total length
// and checksum into the file: the fuzzer then reaches the entry parser behind the checksum; with an even mode
// byte the file is read as it is (checksum and truncation errors). A checkpoint that decodes must encode and
// decode back the same. (load() is read_file() + decode_checkpoint().)
#include <zlib.h>

#include <cstring>
#include <vector>

#include "actlab/nn/checkpoint.h"
#include "fuzz_util.h"

namespace {

bool same(const actlab::nn::Checkpoint& a, const actlab::nn::Checkpoint& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& [na, ta] = a.tensors[i];
    const auto& [nb, tb] = b.tensors[i];
    if (na != nb || ta.sizes() != tb.sizes() || ta.dtype() != tb.dtype()) return false;
    const size_t n = static_cast<size_t>(ta.numel()) * actlab::element_size(ta.dtype());
    if (n > 0 && std::memcmp(ta.raw_data(), tb.raw_data(), n) != 0) return false;
  }
  return true;
}

}  // namespace

ACTLAB_FUZZ_TARGET(checkpoint) {
  using namespace actlab;
  if (size == 0) return 0;
  const bool fix_up = data[size - 1] & 1;
  std::vector<uint8_t> bytes(data, data + size - 1);
  if (fix_up && bytes.size() >= 28) {
    const uint64_t total = bytes.size();
    std::memcpy(bytes.data() + 16, &total, 8);
    const auto crc = static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), bytes.data(), bytes.size() - 4));
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  }
  fuzz::expect_only_actlab_errors([&] {
    nn::Checkpoint c = nn::decode_checkpoint(bytes, "fuzz.ckpt");
    ACTLAB_FUZZ_CHECK(c.tensors.size() <= size);
    nn::Checkpoint d = nn::decode_checkpoint(nn::encode_checkpoint(c.tensors, c.metadata), "again.ckpt");
    ACTLAB_FUZZ_CHECK(same(c, d));
  });
  return 0;
}
