#include "actlab/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "actlab/core/error.h"
#include "actlab/core/file.h"

namespace actlab::data {

namespace {

using detail::concat;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// A stream of bytes: the file itself, or its gzip-decompressed contents.
class Source {
 public:
  virtual ~Source() = default;
  // Reads up to n bytes; fewer only at the end of the data. Throws IOError on a read or zlib error.
  virtual size_t read(void* buf, size_t n) = 0;
};

class PlainSource : public Source {
 public:
  PlainSource(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  size_t read(void* buf, size_t n) override {
    size_t got = std::fread(buf, 1, n, f_);
    if (got < n && std::ferror(f_)) throw IOError(concat("cannot read ", path_, ": ", std::strerror(errno)));
    return got;
  }

 private:
  std::FILE* f_;
  std::string path_;
};

class GzipSource : public Source {
 public:
  GzipSource(std::FILE* f, std::string path) : f_(f), path_(std::move(path)), in_(1 << 16) {
    std::memset(&zs_, 0, sizeof zs_);
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) throw IOError(concat("cannot decompress ", path_, ": zlib init failed"));
  }
  ~GzipSource() override { inflateEnd(&zs_); }

  size_t read(void* buf, size_t n) override {
    auto* out = static_cast<unsigned char*>(buf);
    size_t done = 0;
    while (done < n) {
      if (finished_) {
        // A gzip file may hold several members; anything after the last one must be another member.
        if (!refill()) break;
        if (inflateReset(&zs_) != Z_OK) throw IOError(concat("cannot decompress ", path_, ": zlib reset failed"));
        finished_ = false;
      }
      const bool at_eof = zs_.avail_in == 0 && !refill();
      size_t chunk = std::min<size_t>(n - done, 1u << 30);
      zs_.next_out = out + done;
      zs_.avail_out = static_cast<uInt>(chunk);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      done += chunk - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        finished_ = true;
      } else if (rc == Z_BUF_ERROR && at_eof) {
        throw IOError(concat("IDX file ", path_, " is truncated: the gzip stream ends before its end marker"));
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw IOError(concat("cannot decompress ", path_, ": ", zs_.msg ? zs_.msg : "corrupt gzip data"));
      }
    }
    return done;
  }

 private:
  // Makes input available; false at the end of the file.
  bool refill() {
    if (zs_.avail_in > 0) return true;
    size_t got = std::fread(in_.data(), 1, in_.size(), f_);
    if (got == 0) {
      if (std::ferror(f_)) throw IOError(concat("cannot read ", path_, ": ", std::strerror(errno)));
      return false;
    }
    zs_.next_in = in_.data();
    zs_.avail_in = static_cast<uInt>(got);
    return true;
  }

  std::FILE* f_;
  std::string path_;
  std::vector<unsigned char> in_;
  z_stream zs_;
  bool finished_ = false;
};

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) throw IOError(concat("cannot open ", path, ": ", std::strerror(errno)));
  // File length (for the plain format's payload check) and the gzip magic.
  if (std::fseek(f.get(), 0, SEEK_END) != 0) throw IOError(concat("cannot read ", path, ": ", std::strerror(errno)));
  long file_len = std::ftell(f.get());
  if (file_len < 0) throw IOError(concat("cannot read ", path, ": ", std::strerror(errno)));
  std::rewind(f.get());
  unsigned char probe[2] = {0, 0};
  size_t nprobe = std::fread(probe, 1, 2, f.get());
  std::rewind(f.get());
  const bool gz = nprobe == 2 && probe[0] == 0x1f && probe[1] == 0x8b;

  std::unique_ptr<Source> src;
  if (gz) src = std::make_unique<GzipSource>(f.get(), path);
  else src = std::make_unique<PlainSource>(f.get(), path);

  unsigned char magic[4];
  size_t got = src->read(magic, 4);
  if (got < 4)
    throw IOError(concat("not an IDX file: ", path, " (", got, " bytes; the header alone takes 4)"));
  if (magic[0] != 0 || magic[1] != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%02x %02x", magic[0], magic[1]);
    throw IOError(concat("not an IDX file: ", path, " (its first bytes are ", hex, ", expected 00 00)"));
  }
  if (magic[2] != 0x08) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", magic[2]);
    throw IOError(concat("unsupported IDX element type ", hex, " in ", path,
                         " (only 0x08, unsigned byte, is supported)"));
  }
  const int rank = magic[3];
  if (rank < 1 || rank > 4)
    throw IOError(concat("unsupported IDX rank ", rank, " in ", path, " (expected 1 to 4 dimensions)"));

  unsigned char dimbytes[16];
  got = src->read(dimbytes, 4 * static_cast<size_t>(rank));
  if (got < 4 * static_cast<size_t>(rank))
    throw IOError(concat("IDX file ", path, " is truncated: its header lists ", rank, " dimensions but ends after ",
                         4 + got, " bytes"));
  IdxArray out;
  int64_t total = 1;
  bool too_large = false;
  for (int k = 0; k < rank; ++k) {
    int64_t d = be32(dimbytes + 4 * k);
    out.dims.push_back(d);
    if (d == 0) throw IOError(concat("IDX file ", path, " has an empty dimension: ", dims_str(out.dims)));
    if (!too_large && total > kMaxIdxBytes / d) too_large = true;  // also catches int64 overflow
    if (!too_large) total *= d;
  }
  if (too_large)
    throw IOError(concat("IDX file ", path, " declares dimensions ", dims_str(out.dims),
                         " whose product exceeds the limit of ", kMaxIdxBytes, " bytes"));
  const int64_t header = 4 + 4 * rank;

  if (!gz) {
    int64_t payload = static_cast<int64_t>(file_len) - header;
    if (payload < total)
      throw IOError(concat("IDX file ", path, " is truncated: dimensions ", dims_str(out.dims), " need ", total,
                           " data bytes but the file holds ", payload));
    if (payload > total)
      throw IOError(concat("IDX file ", path, " is longer than its header says: dimensions ", dims_str(out.dims),
                           " need ", total, " data bytes but the file holds ", payload));
    out.data.resize(static_cast<size_t>(total));
    if (src->read(out.data.data(), out.data.size()) != out.data.size())
      throw IOError(concat("cannot read ", path, ": the file shrank while reading"));
    return out;
  }

  // gzip: the decompressed size is unknown until the end, so grow the buffer with the stream (never past
  // `total`), and fail on a stream that is shorter or longer than the header promises.
  size_t filled = 0;
  const auto want = static_cast<size_t>(total);
  out.data.resize(std::min<size_t>(want, size_t{1} << 22));
  while (filled < want) {
    if (filled == out.data.size()) out.data.resize(std::min(want, out.data.size() * 2));
    size_t n = src->read(out.data.data() + filled, out.data.size() - filled);
    filled += n;
    if (n == 0) break;
  }
  if (filled < want)
    throw IOError(concat("IDX file ", path, " is truncated: dimensions ", dims_str(out.dims), " need ", total,
                         " data bytes but the decompressed file holds ", filled));
  unsigned char extra[256];
  size_t more = 0, n;
  while ((n = src->read(extra, sizeof extra)) > 0) more += n;
  if (more > 0)
    throw IOError(concat("IDX file ", path, " is longer than its header says: dimensions ", dims_str(out.dims),
                         " need ", total, " data bytes but the decompressed file holds ", total + static_cast<int64_t>(more)));
  return out;
}

std::vector<uint8_t> encode_idx(const IdxArray& a) {
  if (a.dims.empty() || a.dims.size() > 4)
    throw ValueError(concat("an IDX array has 1 to 4 dimensions, got ", a.dims.size()));
  int64_t total = 1;
  for (int64_t d : a.dims) {
    if (d < 1 || d > 0xffffffffLL) throw ValueError(concat("invalid IDX dimension ", d));
    if (total > kMaxIdxBytes / d) throw ValueError(concat("IDX dimensions ", dims_str(a.dims), " are too large"));
    total *= d;
  }
  if (static_cast<int64_t>(a.data.size()) != total)
    throw ValueError(concat("IDX dimensions ", dims_str(a.dims), " need ", total, " bytes but the data has ",
                            a.data.size()));
  std::vector<uint8_t> out = {0, 0, 0x08, static_cast<uint8_t>(a.dims.size())};
  for (int64_t d : a.dims)
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>((d >> s) & 0xff));
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

std::vector<uint8_t> gzip_compress(const void* data, size_t size, int level) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw IOError("gzip: zlib init failed");
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(size)) + 64);
  zs.next_in = static_cast<Bytef*>(const_cast<void*>(data));
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t produced = out.size() - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw IOError("gzip: compression failed");
  out.resize(produced);
  return out;
}

void write_idx(const std::string& path, const IdxArray& array, bool gzip) {
  std::vector<uint8_t> bytes = encode_idx(array);
  if (gzip) bytes = gzip_compress(bytes.data(), bytes.size());
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace actlab::data
