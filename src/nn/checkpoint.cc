#include "actlab/nn/checkpoint.h"

#include <zlib.h>

#include <bit>
#include <cstring>
#include <set>

#include "actlab/core/error.h"
#include "actlab/core/file.h"
#include "actlab/core/tensor_impl.h"

namespace actlab::nn {

static_assert(std::endian::native == std::endian::little, "the checkpoint format is written in host (little-endian) order");

namespace {

using detail::concat;

constexpr char kMagic[8] = {'A', 'C', 'T', 'L', 'A', 'B', 'C', 'K'};
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8;
constexpr int kMaxRank = 16;

uint8_t dtype_code(Dtype d) {
  switch (d) {
    case Dtype::Float32: return 0;
    case Dtype::Float64: return 1;
    case Dtype::Int64: return 2;
    case Dtype::Bool: return 3;
  }
  return 255;
}

uint32_t crc32_of(const unsigned char* p, size_t n) {
  return static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), p, n));
}

class Writer {
 public:
  template <class T> void put(T v) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    bytes.insert(bytes.end(), b, b + sizeof(T));
  }
  void put_bytes(const void* p, size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    bytes.insert(bytes.end(), c, c + n);
  }
  void put_string(const std::string& s) {
    if (s.size() > 0xffffffffu) throw ValueError("checkpoint: a name or metadata string is longer than 4 GiB");
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    put_bytes(s.data(), s.size());
  }
  std::vector<unsigned char> bytes;
};

class Reader {
 public:
  Reader(const std::vector<unsigned char>& b, size_t begin, size_t end, const std::string& path)
      : b_(b), pos_(begin), end_(end), path_(path) {}
  size_t left() const { return end_ - pos_; }
  [[noreturn]] void damaged(const std::string& why) const {
    throw IOError(concat("checkpoint ", path_, " is damaged: ", why));
  }
  void need(size_t n, const char* what) const {
    if (n > left()) damaged(concat(what, " extends past the end of the file"));
  }
  template <class T> T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string get_string(const char* what) {
    auto n = get<uint32_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  const unsigned char* take(size_t n, const char* what) {
    need(n, what);
    const unsigned char* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }

 private:
  const std::vector<unsigned char>& b_;
  size_t pos_, end_;
  const std::string& path_;
};

}  // namespace

Tensor Checkpoint::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  return Tensor();
}

std::vector<unsigned char> encode_checkpoint(const StateDict& tensors,
                                             const std::map<std::string, std::string>& metadata) {
  Writer w;
  w.put_bytes(kMagic, 8);
  w.put<uint32_t>(kCheckpointVersion);
  w.put<uint32_t>(0);
  w.put<uint64_t>(0);  // total length, patched below
  w.put<uint64_t>(tensors.size());
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) throw ValueError("checkpoint: a tensor has an empty name");
    if (!seen.insert(name).second) throw ValueError(concat("checkpoint: duplicate tensor name \"", name, "\""));
    if (!t.defined()) throw ValueError(concat("checkpoint: tensor \"", name, "\" is undefined"));
    if (t.dim() > kMaxRank)
      throw ValueError(concat("checkpoint: tensor \"", name, "\" has ", t.dim(), " dimensions (at most ", kMaxRank,
                              " are supported)"));
    Tensor c = t.detach().contiguous();
    w.put_string(name);
    w.put<uint8_t>(dtype_code(c.dtype()));
    w.put<uint8_t>(static_cast<uint8_t>(c.dim()));
    for (int64_t s : c.sizes()) w.put<int64_t>(s);
    const size_t nbytes = static_cast<size_t>(c.numel()) * element_size(c.dtype());
    w.put<uint64_t>(nbytes);
    if (nbytes > 0) w.put_bytes(c.raw_data(), nbytes);
  }
  w.put<uint64_t>(metadata.size());
  for (const auto& [k, v] : metadata) {
    w.put_string(k);
    w.put_string(v);
  }
  const uint64_t total = w.bytes.size() + 4;
  std::memcpy(w.bytes.data() + 16, &total, 8);
  w.put<uint32_t>(crc32_of(w.bytes.data(), w.bytes.size()));
  return std::move(w.bytes);
}

void save(const StateDict& tensors, const std::string& path, const std::map<std::string, std::string>& metadata) {
  const std::vector<unsigned char> bytes = encode_checkpoint(tensors, metadata);
  write_file_atomic(path, bytes.data(), bytes.size());
}

Checkpoint load(const std::string& path) { return decode_checkpoint(read_file(path), path); }

Checkpoint decode_checkpoint(const std::vector<unsigned char>& b, const std::string& path) {
  if (b.size() < 8 || std::memcmp(b.data(), kMagic, 8) != 0)
    throw IOError(concat("not an actlab checkpoint: ", path, " (it does not start with \"ACTLABCK\")"));
  if (b.size() < kHeaderSize + 4)
    throw IOError(concat("checkpoint ", path, " is truncated: ", b.size(), " bytes, less than its header"));
  uint32_t version;
  std::memcpy(&version, b.data() + 8, 4);
  if (version != kCheckpointVersion)
    throw IOError(concat("unsupported checkpoint version ", version, " in ", path, " (this build reads version ",
                         kCheckpointVersion, ")"));
  uint64_t declared;
  std::memcpy(&declared, b.data() + 16, 8);
  uint32_t stored_crc;
  std::memcpy(&stored_crc, b.data() + b.size() - 4, 4);
  if (crc32_of(b.data(), b.size() - 4) != stored_crc) {
    if (declared > b.size())
      throw IOError(concat("checkpoint ", path, " is truncated: its header says ", declared, " bytes but the file has ",
                           b.size()));
    throw IOError(concat("checkpoint ", path, " is damaged: checksum mismatch"));
  }
  Reader r(b, 16, b.size() - 4, path);
  if (r.get<uint64_t>("the header") != b.size()) r.damaged("the recorded length differs from the file's");

  Checkpoint out;
  auto count = r.get<uint64_t>("the entry count");
  // Each entry takes at least 4 + 1 + 1 + 8 bytes: a count beyond that cannot be right.
  if (count > r.left() / 14) r.damaged(concat("it claims ", count, " entries"));
  std::set<std::string> seen;
  for (uint64_t i = 0; i < count; ++i) {
    std::string name = r.get_string("a tensor name");
    if (!seen.insert(name).second) r.damaged(concat("duplicate tensor name \"", name, "\""));
    auto code = r.get<uint8_t>("a dtype");
    Dtype dt;
    switch (code) {
      case 0: dt = Dtype::Float32; break;
      case 1: dt = Dtype::Float64; break;
      case 2: dt = Dtype::Int64; break;
      case 3: dt = Dtype::Bool; break;
      default: r.damaged(concat("tensor \"", name, "\" has unknown dtype code ", int{code}));
    }
    int rank = r.get<uint8_t>("a rank");
    if (rank > kMaxRank) r.damaged(concat("tensor \"", name, "\" has rank ", rank));
    Shape shape;
    uint64_t numel = 1;
    bool overflow = false;
    for (int k = 0; k < rank; ++k) {
      auto s = r.get<int64_t>("a tensor shape");
      if (s < 0) r.damaged(concat("tensor \"", name, "\" has a negative size"));
      shape.push_back(s);
      if (s != 0 && numel > (uint64_t{1} << 62) / static_cast<uint64_t>(s)) overflow = true;
      else numel *= static_cast<uint64_t>(s);
    }
    auto nbytes = r.get<uint64_t>("a data size");
    if (overflow || nbytes != numel * element_size(dt))
      r.damaged(concat("tensor \"", name, "\" of shape ", shape_str(shape), " records ", nbytes, " data bytes"));
    const unsigned char* data = r.take(nbytes, "tensor data");  // checked against the file before allocating
    Tensor t = make_tensor(shape, dt);
    if (nbytes > 0) std::memcpy(t.raw_data(), data, nbytes);
    if (dt == Dtype::Bool)
      for (uint64_t k = 0; k < nbytes; ++k)
        if (data[k] > 1) r.damaged(concat("tensor \"", name, "\" holds a bool that is neither 0 nor 1"));
    out.tensors.emplace_back(std::move(name), std::move(t));
  }
  auto mcount = r.get<uint64_t>("the metadata count");
  if (mcount > r.left() / 8) r.damaged(concat("it claims ", mcount, " metadata items"));
  for (uint64_t i = 0; i < mcount; ++i) {
    std::string k = r.get_string("a metadata key");
    std::string v = r.get_string("a metadata value");
    out.metadata[std::move(k)] = std::move(v);
  }
  if (r.left() != 0) r.damaged(concat(r.left(), " unexpected bytes after the metadata"));
  return out;
}

void save_module(const Module& module, const std::string& path, const std::map<std::string, std::string>& metadata) {
  save(module.state_dict(), path, metadata);
}

std::map<std::string, std::string> load_module(Module& module, const std::string& path, bool strict) {
  Checkpoint ck = load(path);
  auto kind = ck.metadata.find("kind");
  if (kind != ck.metadata.end() && kind->second == kTrainingCheckpointKind) {
    // A training checkpoint (lab::train's --save-every): the model's entries carry a "model." prefix.
    StateDict model;
    for (auto& [name, t] : ck.tensors)
      if (name.rfind("model.", 0) == 0) model.emplace_back(name.substr(6), t);
    module.load_state_dict(model, strict);
  } else {
    module.load_state_dict(ck.tensors, strict);
  }
  return std::move(ck.metadata);
}

}  // namespace actlab::nn
