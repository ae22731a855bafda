// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
// (0x00 0x00 <type> <rank>), `rank` big-endian uint32 dimensions, then the elements in row-major order.
// Files may be gzip-compressed (detected by the gzip magic 1f 8b, whatever the file is called).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace actlab::data {

// An IDX array of unsigned bytes: dims (1 to 4 of them, each >= 1) and product(dims) bytes of data.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// The largest payload read_idx accepts (8 GiB): a header that promises more is rejected before any
// allocation.
inline constexpr int64_t kMaxIdxBytes = int64_t{1} << 33;

// Reads a plain or gzip-compressed IDX file of unsigned bytes (type 0x08). Throws actlab::IOError, with the
// path in the message, when the file cannot be opened, the magic is wrong, the type is not 0x08, the rank is
// not 1..4, a dimension is 0 or their product overflows / exceeds kMaxIdxBytes, or the payload is shorter or
// longer than the header promises. Everything is validated before the payload is allocated; for gzip the
// output buffer grows with the decompressed stream and never beyond what the header promises.
IdxArray read_idx(const std::string& path);

// Encodes an IdxArray (type 0x08) as IDX bytes. Throws ValueError on a bad rank or a dims/data mismatch.
std::vector<uint8_t> encode_idx(const IdxArray& array);
// Writes an IdxArray to `path` (atomically), gzip-compressed when `gzip` is true. Throws IOError/ValueError.
void write_idx(const std::string& path, const IdxArray& array, bool gzip = false);

// gzip-compresses bytes in memory (a single gzip member, as `gzip -c` writes). Throws IOError on a zlib error.
std::vector<uint8_t> gzip_compress(const void* data, size_t size, int level = 6);

}  // namespace actlab::data
