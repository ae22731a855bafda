// .npy reader and writer. Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//
//   "\x93NUMPY" major minor  header_len (uint16 LE for 1.0, uint32 LE for 2.0/3.0)  header  data
//
// The header is a Python dict literal with exactly the keys 'descr', 'fortran_order' and 'shape',
// padded with spaces and ended by '\n'. Version 3.0 only differs by allowing UTF-8 in the header.
#include "actlab/core/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

namespace actlab {
namespace {

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kPreludeV1 = 10;  // magic, version, uint16 header length
constexpr size_t kPreludeV2 = 12;  // magic, version, uint32 header length

[[noreturn]] void fail(const std::string& msg) { throw NpyError(msg); }

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

const char* dtype_name(NpyDtype d) { return d == NpyDtype::Float32 ? "float32" : "float64"; }

// numel * itemsize with overflow detection; nullopt when a dimension is negative or the product overflows.
std::optional<uint64_t> checked_nbytes(const std::vector<int64_t>& shape, size_t itemsize) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) return std::nullopt;
    n *= static_cast<uint64_t>(d);
  }
  if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  if (n != 0 && itemsize > std::numeric_limits<uint64_t>::max() / n) return std::nullopt;
  return n * itemsize;
}

// ---- the header dict -------------------------------------------------------------------------------
// A small parser for the Python literal numpy writes: {'key': value, ...} with string, bool and
// tuple-of-int values, any key order, any whitespace, optional trailing commas.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  struct Result {
    std::string descr;
    bool fortran_order = false;
    std::vector<int64_t> shape;
  };

  Result parse() {
    Result r;
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_ws();
    expect('{', "the header must be a dict starting with '{'");
    skip_ws();
    while (peek() != '}') {
      std::string key = parse_string("a quoted key");
      skip_ws();
      expect(':', "expected ':' after key '" + key + "'");
      skip_ws();
      if (key == "descr") {
        if (have_descr) malformed("duplicate key 'descr'");
        have_descr = true;
        if (peek() == '[') {
          fail("unsupported dtype in " + name_ +
               ": structured (record) dtypes are not supported; only little-endian float32 ('<f4') and "
               "float64 ('<f8') are supported");
        }
        r.descr = parse_string("a quoted dtype string for 'descr'");
      } else if (key == "fortran_order") {
        if (have_fortran) malformed("duplicate key 'fortran_order'");
        have_fortran = true;
        r.fortran_order = parse_bool();
      } else if (key == "shape") {
        if (have_shape) malformed("duplicate key 'shape'");
        have_shape = true;
        r.shape = parse_shape();
      } else {
        malformed("unexpected key '" + key + "' (expected only 'descr', 'fortran_order' and 'shape')");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != '}') {
        malformed("expected ',' or '}' after the value of '" + key + "'");
      }
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != s_.size()) malformed("unexpected text after the closing '}'");
    if (!have_descr) malformed("missing key 'descr'");
    if (!have_fortran) malformed("missing key 'fortran_order'");
    if (!have_shape) malformed("missing key 'shape'");
    return r;
  }

 private:
  [[noreturn]] void malformed(const std::string& what) const {
    fail("malformed .npy header in " + name_ + ": " + what + " at offset " + std::to_string(pos_) +
         " of header \"" + printable_header() + "\"");
  }
  std::string printable_header() const {
    std::string out;
    for (char c : s_.substr(0, 200)) {
      unsigned char u = static_cast<unsigned char>(c);
      if (c == '\n') out += "\\n";
      else if (u < 0x20 || u >= 0x7f) out += '?';
      else out += c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (s_.size() > 200) out += "...";
    return out;
  }
  char peek() const {
    if (pos_ >= s_.size()) malformed("unexpected end of header");
    return s_[pos_];
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c, const std::string& what) {
    if (peek() != c) malformed(what);
    ++pos_;
  }
  std::string parse_string(const std::string& what) {
    char q = peek();
    if (q != '\'' && q != '"') malformed("expected " + what);
    ++pos_;
    std::string out;
    while (true) {
      char c = peek();
      ++pos_;
      if (c == q) break;
      if (c == '\\') malformed("escape sequences are not supported in header strings");
      if (c == '\n') malformed("unterminated string");
      out += c;
    }
    return out;
  }
  bool parse_bool() {
    if (s_.substr(pos_, 4) == "True") { pos_ += 4; return true; }
    if (s_.substr(pos_, 5) == "False") { pos_ += 5; return false; }
    malformed("expected True or False for 'fortran_order'");
  }
  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    expect('(', "expected a tuple '(...)' for 'shape'");
    skip_ws();
    bool need_comma_for_single = true;
    while (peek() != ')') {
      shape.push_back(parse_dim(shape.size()));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
        need_comma_for_single = false;
      } else if (peek() != ')') {
        malformed("expected ',' or ')' in 'shape'");
      } else if (shape.size() == 1 && need_comma_for_single) {
        // "(3)" is the integer 3 in Python, not a tuple.
        malformed("'shape' must be a tuple; a single dimension is written '(n,)'");
      }
    }
    ++pos_;  // ')'
    return shape;
  }
  int64_t parse_dim(size_t index) {
    bool negative = false;
    if (peek() == '-' || peek() == '+') {
      negative = peek() == '-';
      ++pos_;
      skip_ws();
    }
    if (peek() < '0' || peek() > '9') malformed("expected an integer dimension in 'shape'");
    uint64_t v = 0;
    bool overflow = false;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      unsigned digit = static_cast<unsigned>(s_[pos_] - '0');
      if (v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10) overflow = true;
      else v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'L' || s_[pos_] == 'l')) ++pos_;  // Python 2 long suffix
    if (overflow) {
      fail("dimension " + std::to_string(index) + " of 'shape' in " + name_ +
           " does not fit in a 64-bit integer");
    }
    if (negative && v != 0) {
      fail("negative dimension -" + std::to_string(v) + " in 'shape' of " + name_);
    }
    return static_cast<int64_t>(v);
  }

  std::string_view s_;
  const std::string& name_;
  size_t pos_ = 0;
};

NpyDtype dtype_from_descr(const std::string& descr, const std::string& name) {
  if (descr == "<f4") return NpyDtype::Float32;
  if (descr == "<f8") return NpyDtype::Float64;
  const std::string supported = "only little-endian float32 ('<f4') and float64 ('<f8') are supported";
  if (descr == ">f4" || descr == ">f8") {
    fail("unsupported dtype '" + descr + "' in " + name + ": big-endian data is not supported; " + supported +
         " (convert with arr.astype('<f" + descr.substr(2) + "'))");
  }
  if (!descr.empty() && descr[0] == '|' && descr.size() > 1 && descr[1] == 'f') {
    fail("unsupported dtype '" + descr + "' in " + name +
         ": the byte order '|' (not applicable) is not valid for floats; " + supported);
  }
  fail("unsupported dtype '" + descr + "' in " + name + ": " + supported);
}

struct Header {
  NpyDtype dtype;
  std::vector<int64_t> shape;
  size_t data_offset;   // where the data starts
  uint64_t data_bytes;  // numel * itemsize
};

// Parses the prelude and header from `prefix` (which must hold at least the whole header when it exists
// in the file); `total_size` is the size of the whole file. Validates the data size against it.
// When `prefix_size` is too short to hold the header, returns nullopt and sets `needed`.
std::optional<Header> parse_header(const unsigned char* prefix, size_t prefix_size, uint64_t total_size,
                                   const std::string& name, size_t* needed) {
  if (total_size < sizeof(kMagic) || std::memcmp(prefix, kMagic, sizeof(kMagic)) != 0) {
    fail("not a .npy file: " + name + " does not start with the magic string \"\\x93NUMPY\"");
  }
  if (total_size < 8) fail("truncated .npy file " + name + ": it ends inside the format version");
  const unsigned major = prefix[6], minor = prefix[7];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0)) {
    fail("unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) + " in " +
         name + ": only versions 1.0, 2.0 and 3.0 are supported");
  }
  const size_t prelude = major == 1 ? kPreludeV1 : kPreludeV2;
  if (total_size < prelude) fail("truncated .npy file " + name + ": it ends inside the header length");
  if (prefix_size < prelude) {
    *needed = prelude;
    return std::nullopt;
  }
  uint64_t header_len = 0;
  if (major == 1) {
    header_len = static_cast<uint64_t>(prefix[8]) | (static_cast<uint64_t>(prefix[9]) << 8);
  } else {
    for (int i = 0; i < 4; ++i) header_len |= static_cast<uint64_t>(prefix[8 + i]) << (8 * i);
  }
  if (header_len > total_size - prelude) {
    fail("malformed .npy file " + name + ": the header length " + std::to_string(header_len) +
         " goes beyond the end of the file (" + std::to_string(total_size) + " bytes)");
  }
  const size_t data_offset = prelude + static_cast<size_t>(header_len);
  if (prefix_size < data_offset) {
    *needed = data_offset;
    return std::nullopt;
  }
  std::string_view text(reinterpret_cast<const char*>(prefix + prelude), static_cast<size_t>(header_len));
  if (text.find('\0') != std::string_view::npos) {
    fail("malformed .npy header in " + name + ": it contains a NUL byte");
  }
  HeaderParser::Result r = HeaderParser(text, name).parse();
  Header h{dtype_from_descr(r.descr, name), std::move(r.shape), data_offset, 0};
  if (r.fortran_order) {
    fail("unsupported Fortran-order array in " + name +
         ": only C-order arrays ('fortran_order': False) are supported (save np.ascontiguousarray(arr))");
  }
  const size_t itemsize = npy_itemsize(h.dtype);
  std::optional<uint64_t> nbytes = checked_nbytes(h.shape, itemsize);
  if (!nbytes) fail("the shape " + shape_str(h.shape) + " in " + name + " has more elements than can be stored");
  h.data_bytes = *nbytes;
  const uint64_t available = total_size - data_offset;
  if (available < h.data_bytes) {
    fail("truncated data in " + name + ": shape " + shape_str(h.shape) + " of " + dtype_name(h.dtype) +
         " needs " + std::to_string(h.data_bytes) + " bytes, but only " + std::to_string(available) +
         " follow the header");
  }
  if (available > h.data_bytes) {
    fail("unexpected trailing bytes in " + name + ": shape " + shape_str(h.shape) + " of " +
         dtype_name(h.dtype) + " needs " + std::to_string(h.data_bytes) + " bytes, but " +
         std::to_string(available) + " follow the header");
  }
  return h;
}

void swap_to_little_endian(unsigned char* p, size_t nbytes, size_t itemsize) {
  if constexpr (std::endian::native == std::endian::little) {
    (void)p, (void)nbytes, (void)itemsize;
  } else {
    for (size_t i = 0; i + itemsize <= nbytes; i += itemsize)
      for (size_t a = 0, b = itemsize - 1; a < b; ++a, --b) std::swap(p[i + a], p[i + b]);
  }
}

std::string errno_text(int err) { return std::strerror(err); }

// Closes a descriptor on scope exit unless released.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly n bytes at the current position; false on a short read (sets *err on an error).
bool read_exact(int fd, unsigned char* buf, size_t n, int* err) {
  while (n > 0) {
    ssize_t r = ::read(fd, buf, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return false;
    }
    if (r == 0) {
      *err = 0;
      return false;
    }
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_all(int fd, const unsigned char* buf, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

size_t npy_itemsize(NpyDtype dtype) { return dtype == NpyDtype::Float32 ? 4 : 8; }
const char* npy_descr(NpyDtype dtype) { return dtype == NpyDtype::Float32 ? "<f4" : "<f8"; }

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

NpyArray parse_npy(const unsigned char* bytes, size_t size, const std::string& name_for_errors) {
  size_t needed = 0;
  std::optional<Header> h = parse_header(bytes, size, size, name_for_errors, &needed);
  // parse_header only asks for more when the prefix is shorter than the file; here it is the whole file.
  if (!h) fail("internal error parsing " + name_for_errors);
  NpyArray a;
  a.dtype = h->dtype;
  a.shape = std::move(h->shape);
  a.data.assign(bytes + h->data_offset, bytes + h->data_offset + h->data_bytes);
  swap_to_little_endian(a.data.data(), a.data.size(), a.itemsize());  // no-op on little-endian hosts
  return a;
}

NpyArray read_npy(const std::string& path) {
  Fd f;
  do f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  while (f.fd < 0 && errno == EINTR);
  if (f.fd < 0) fail("cannot open " + path + " for reading: " + errno_text(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail("cannot stat " + path + ": " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) fail("cannot read " + path + ": it is a directory, not a .npy file");
  if (!S_ISREG(st.st_mode)) fail("cannot read " + path + ": not a regular file");
  const uint64_t total = static_cast<uint64_t>(st.st_size);

  // Read the header first (a few hundred bytes at most in practice) and validate every size against the
  // file size before allocating the data buffer.
  std::vector<unsigned char> prefix;
  size_t want = static_cast<size_t>(std::min<uint64_t>(total, kPreludeV2));
  std::optional<Header> h;
  int err = 0;
  while (true) {
    size_t have = prefix.size();
    prefix.resize(want);
    if (!read_exact(f.fd, prefix.data() + have, want - have, &err)) {
      if (err) fail("cannot read " + path + ": " + errno_text(err));
      fail("cannot read " + path + ": the file shrank while it was being read");
    }
    size_t needed = 0;
    h = parse_header(prefix.data(), prefix.size(), total, path, &needed);
    if (h) break;
    want = needed;  // bounded by the file size: parse_header checked it
  }
  NpyArray a;
  a.dtype = h->dtype;
  a.shape = std::move(h->shape);
  // The first read (kPreludeV2 bytes) can reach past a very short header into the data: keep those bytes.
  const size_t in_prefix = prefix.size() - std::min(prefix.size(), h->data_offset);
  a.data.resize(static_cast<size_t>(h->data_bytes));
  if (in_prefix) std::memcpy(a.data.data(), prefix.data() + h->data_offset, in_prefix);
  if (!read_exact(f.fd, a.data.data() + in_prefix, a.data.size() - in_prefix, &err)) {
    if (err) fail("cannot read " + path + ": " + errno_text(err));
    fail("truncated data in " + path + ": the file shrank while it was being read");
  }
  swap_to_little_endian(a.data.data(), a.data.size(), a.itemsize());
  return a;
}

std::vector<unsigned char> encode_npy(NpyDtype dtype, const std::vector<int64_t>& shape, const void* data) {
  const size_t itemsize = npy_itemsize(dtype);
  std::optional<uint64_t> nbytes = checked_nbytes(shape, itemsize);
  if (!nbytes) {
    for (int64_t d : shape)
      if (d < 0) fail("cannot write .npy: negative dimension in shape " + shape_str(shape));
    fail("cannot write .npy: shape " + shape_str(shape) + " has more elements than can be stored");
  }
  if (*nbytes > 0 && data == nullptr) fail("cannot write .npy: no data for shape " + shape_str(shape));

  std::string header = std::string("{'descr': '") + npy_descr(dtype) +
                       "', 'fortran_order': False, 'shape': " + shape_str(shape) + ", }";
  // Pad with spaces and a final '\n' so the data starts on a 64-byte boundary, as numpy does.
  size_t prelude = kPreludeV1;
  unsigned major = 1;
  auto padded_len = [&](size_t pre) { return ((pre + header.size() + 1 + 63) / 64) * 64 - pre; };
  size_t hlen = padded_len(prelude);
  if (hlen > 0xffff) {
    prelude = kPreludeV2;
    major = 2;
    hlen = padded_len(prelude);
  }
  header.append(hlen - header.size() - 1, ' ');
  header += '\n';

  // One allocation, filled with memcpy (vector::insert chains trip GCC 12's -Wstringop-overflow).
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t data_start = prelude + hlen;
  std::vector<unsigned char> out(data_start + static_cast<size_t>(*nbytes));
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  out[6] = static_cast<unsigned char>(major);
  out[7] = 0;
  for (size_t i = 0; i < len_bytes; ++i) out[8 + i] = static_cast<unsigned char>((hlen >> (8 * i)) & 0xff);
  std::memcpy(out.data() + prelude, header.data(), hlen);
  if (*nbytes > 0) std::memcpy(out.data() + data_start, data, static_cast<size_t>(*nbytes));
  swap_to_little_endian(out.data() + data_start, static_cast<size_t>(*nbytes), itemsize);
  return out;
}

void write_npy(const std::string& path, NpyDtype dtype, const std::vector<int64_t>& shape, const void* data) {
  const std::vector<unsigned char> bytes = encode_npy(dtype, shape, data);
  const std::string tmp = path + ".tmp-" + std::to_string(static_cast<long>(::getpid()));

  int fd;
  do fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) fail("cannot write " + path + ": cannot create temporary file " + tmp + ": " + errno_text(errno));

  // Called right after a failed system call: errno is read before anything else can change it.
  auto abandon = [&](const char* what) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    fail("cannot write " + path + ": " + what + " " + tmp + " failed: " + errno_text(err));
  };
  if (!write_all(fd, bytes.data(), bytes.size())) abandon("writing");
  if (::fsync(fd) != 0) abandon("fsync of");
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) abandon("closing");
  if (::rename(tmp.c_str(), path.c_str()) != 0) abandon("renaming over it the temporary file");

  // Make the rename itself durable (best effort: some file systems refuse fsync on directories).
  std::string dir = ".";
  if (size_t slash = path.find_last_of('/'); slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void write_npy(const std::string& path, const NpyArray& array) {
  std::optional<uint64_t> nbytes = checked_nbytes(array.shape, array.itemsize());
  if (nbytes && *nbytes != array.data.size()) {
    fail("cannot write " + path + ": the array has " + std::to_string(array.data.size()) +
         " bytes of data, but shape " + shape_str(array.shape) + " of " + dtype_name(array.dtype) + " needs " +
         std::to_string(*nbytes));
  }
  write_npy(path, array.dtype, array.shape, array.data.data());
}

}  // namespace actlab
