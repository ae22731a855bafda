// Checkpoint files: round trips, every kind of damage, atomic replacement, and Module save/load.
#include "actlab/nn/checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>

#include "actlab/actlab.h"
#include "data/data_test_util.h"

namespace actlab::nn {
namespace {

using actlab::testing::error_of;
using actlab::testing::read_raw;
using actlab::testing::ScratchDir;
using actlab::testing::write_raw;

// A small module tree: a weight [out, in, 3, 3] and bias, a running buffer, and a child with its own parameter.
class Leaf : public Module {
 public:
  explicit Leaf(int64_t n) { register_parameter("scale", ones({n})); }
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Leaf"; }
};

class Tiny : public Module {
 public:
  Tiny(int64_t out, uint64_t seed) {
    Generator g(seed);
    register_parameter("weight", randn({out, 1, 3, 3}, {}, &g));
    register_parameter("bias", randn({out}, {}, &g));
    register_buffer("num_batches_tracked", scalar_tensor(static_cast<double>(seed), {Dtype::Int64}));
    register_module("head", std::make_shared<Leaf>(out));
  }
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Sequential"; }
};

// Plain bitwise CRC-32 (IEEE, reflected, as zlib's crc32), an oracle independent of the library.
uint32_t crc32_for_test(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

Checkpoint sample() {
  Generator g(17);
  Checkpoint c;
  c.tensors.emplace_back("w.f32", randn({3, 4}, {}, &g));
  c.tensors.emplace_back("w.f64", randn({2, 1, 3}, {Dtype::Float64}, &g));
  c.tensors.emplace_back("step", scalar_tensor(1234567890123.0, {Dtype::Int64}));  // 0-d
  c.tensors.emplace_back("mask", tensor({{1, 0, 1}, {0, 0, 1}}, {Dtype::Bool}));
  c.tensors.emplace_back("empty", zeros({0, 5}));
  c.tensors.emplace_back("ids", tensor({-3, 0, 9000000000000}, {Dtype::Int64}));
  c.tensors.emplace_back("strided", randn({4, 3}, {}, &g).t());  // non-contiguous
  c.metadata = {{"epoch", "7"}, {"activation", "LeakyReLU(negative_slope=0.2)"}, {"empty", ""}};
  return c;
}

TEST(CheckpointTest, RoundTripsDtypesShapesAndMetadata) {
  ScratchDir d;
  Checkpoint c = sample();
  save(c, d.file("a.ckpt"));
  Checkpoint r = load(d.file("a.ckpt"));
  ASSERT_EQ(r.tensors.size(), c.tensors.size());
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    EXPECT_EQ(r.tensors[i].first, c.tensors[i].first);
    EXPECT_EQ(r.tensors[i].second.dtype(), c.tensors[i].second.dtype()) << c.tensors[i].first;
    EXPECT_EQ(r.tensors[i].second.sizes(), c.tensors[i].second.sizes()) << c.tensors[i].first;
    EXPECT_TRUE(r.tensors[i].second.equal(c.tensors[i].second)) << c.tensors[i].first;
  }
  EXPECT_EQ(r.find("step").dim(), 0);
  EXPECT_EQ(r.find("step").item<int64_t>(), 1234567890123);
  EXPECT_FALSE(r.find("nope").defined());
  EXPECT_EQ(r.metadata, c.metadata);
  // bit-exact floats
  EXPECT_EQ(r.find("w.f64").to_vector(), c.tensors[1].second.to_vector());
}

TEST(CheckpointTest, EmptyCheckpoint) {
  ScratchDir d;
  save(StateDict{}, d.file("e"));
  Checkpoint r = load(d.file("e"));
  EXPECT_TRUE(r.tensors.empty());
  EXPECT_TRUE(r.metadata.empty());
}

TEST(CheckpointTest, EveryCorruptedByteIsDetected) {
  ScratchDir d;
  save(sample(), d.file("c"));
  const auto good = read_raw(d.file("c"));
  ASSERT_GT(good.size(), 100u);
  // Flip each byte after the magic and version in turn: each one must be reported, never crash.
  for (size_t pos = 12; pos < good.size(); ++pos) {
    auto bad = good;
    bad[pos] ^= 0x5a;
    write_raw(d.file("bad"), bad);
    std::string msg = error_of<IOError>([&] { load(d.file("bad")); });
    ASSERT_FALSE(msg.empty()) << "byte " << pos << " not detected";
    if (pos >= 24 && pos < good.size() - 4) EXPECT_EQ(msg, "checkpoint " + d.file("bad") + " is damaged: checksum mismatch") << pos;
  }
}

TEST(CheckpointTest, TruncatedFiles) {
  ScratchDir d;
  save(sample(), d.file("t"));
  const auto good = read_raw(d.file("t"));
  for (size_t keep : {good.size() - 1, good.size() / 2, size_t{30}, size_t{20}, size_t{9}}) {
    write_raw(d.file("cut"), std::vector<uint8_t>(good.begin(), good.begin() + keep));
    std::string msg = error_of<IOError>([&] { load(d.file("cut")); });
    EXPECT_NE(msg.find("checkpoint " + d.file("cut") + " is truncated"), std::string::npos) << keep << ": " << msg;
  }
  write_raw(d.file("cut"), std::vector<uint8_t>(good.begin(), good.begin() + 5));
  EXPECT_NE(error_of<IOError>([&] { load(d.file("cut")); }).find("not an actlab checkpoint"), std::string::npos);
}

TEST(CheckpointTest, WrongMagicAndVersion) {
  ScratchDir d;
  write_raw(d.file("m"), {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(error_of<IOError>([&] { load(d.file("m")); }),
            "not an actlab checkpoint: " + d.file("m") + " (it does not start with \"ACTLABCK\")");
  save(sample(), d.file("v"));
  auto bytes = read_raw(d.file("v"));
  bytes[8] = 2;
  write_raw(d.file("v"), bytes);
  EXPECT_EQ(error_of<IOError>([&] { load(d.file("v")); }),
            "unsupported checkpoint version 2 in " + d.file("v") + " (this build reads version 1)");
  EXPECT_NE(error_of<IOError>([&] { load(d.file("missing")); }).find("cannot open"), std::string::npos);
}

TEST(CheckpointTest, LyingSizesAreRejectedBeforeAllocating) {
  // A file with a valid checksum whose entry claims a huge tensor: the size is checked against the file.
  ScratchDir d;
  StateDict sd = {{"x", zeros({2})}};
  save(sd, d.file("h"));
  auto bytes = read_raw(d.file("h"));
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  ASSERT_EQ(stored, crc32_for_test(bytes.data(), bytes.size() - 4));  // the format's checksum is CRC-32
  // layout: header 24, count 8, name len 4 + "x", dtype, rank, size[0] at offset 24 + 8 + 4 + 1 + 2 = 39
  int64_t huge = int64_t{1} << 40;
  std::memcpy(bytes.data() + 39, &huge, 8);
  uint64_t nbytes = static_cast<uint64_t>(huge) * 4;
  std::memcpy(bytes.data() + 47, &nbytes, 8);
  uint32_t crc = crc32_for_test(bytes.data(), bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  write_raw(d.file("h"), bytes);
  std::string msg = error_of<IOError>([&] { load(d.file("h")); });
  EXPECT_NE(msg.find("is damaged: tensor data extends past the end of the file"), std::string::npos) << msg;
}

// Found by fuzz_checkpoint: an empty tensor of shape [0, 2^40, 2^40] holds no bytes, so every size check passed,
// and computing its strides overflowed int64 (undefined behaviour). It is now a clear error.
TEST(CheckpointTest, EmptyTensorWithOverflowingStrides) {
  std::vector<unsigned char> bytes = encode_checkpoint({{"x", zeros({0, 2, 2})}});
  // layout: header 24, count 8, name len 4 + "x", dtype, rank, sizes at 39, 47, 55, data bytes (0) at 63
  const int64_t huge = int64_t{1} << 40;
  std::memcpy(bytes.data() + 47, &huge, 8);
  std::memcpy(bytes.data() + 55, &huge, 8);
  const uint32_t crc = crc32_for_test(bytes.data(), bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  std::string msg = error_of<Error>([&] { decode_checkpoint(bytes, "strides.ckpt"); });
  EXPECT_EQ(msg, "shape [0, 1099511627776, 1099511627776] is too large: its strides overflow");
  // The same shape from the API.
  EXPECT_THROW(empty({0, huge, huge}), ValueError);
  EXPECT_EQ(empty({0, huge}).strides(), (Shape{huge, 1}));  // strides that fit are fine
}

TEST(CheckpointTest, FailedSaveKeepsExistingFile) {
  ScratchDir d;
  save(sample(), d.file("keep"));
  const auto before = read_raw(d.file("keep"));
  // a path below a regular file cannot be created
  write_raw(d.file("plain"), {1, 2, 3});
  EXPECT_THROW(save(sample(), d.file("plain") + "/x.ckpt"), IOError);
  EXPECT_EQ(read_raw(d.file("plain")), (std::vector<uint8_t>{1, 2, 3}));
  // a bad state dict fails before anything is written
  StateDict dup = {{"a", zeros({1})}, {"a", ones({1})}};
  EXPECT_THROW(save(dup, d.file("keep")), ValueError);
  EXPECT_THROW(save(StateDict{{"u", Tensor()}}, d.file("keep")), ValueError);
  EXPECT_EQ(read_raw(d.file("keep")), before);
  // replacing works and leaves no temporaries behind
  save(StateDict{{"b", ones({2})}}, d.file("keep"));
  EXPECT_TRUE(load(d.file("keep")).find("b").defined());
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(d.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 2);
}

TEST(CheckpointTest, ModuleSaveLoad) {
  ScratchDir d;
  Tiny a(8, 1), b(8, 2);
  ASSERT_FALSE(a.named_parameters()[0].second.equal(b.named_parameters()[0].second));
  save_module(a, d.file("m"), {{"note", "hello"}});
  Tensor wb = b.named_parameters()[0].second;  // same tensor object as b's weight
  auto meta = load_module(b, d.file("m"));
  EXPECT_EQ(meta.at("note"), "hello");
  auto pa = a.state_dict(), pb = b.state_dict();
  ASSERT_EQ(pa.size(), 4u);
  ASSERT_EQ(pb.size(), pa.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    EXPECT_TRUE(pa[i].second.equal(pb[i].second)) << pa[i].first;
  }
  EXPECT_TRUE(wb.equal(a.named_parameters()[0].second));  // copied in place
  EXPECT_TRUE(wb.requires_grad());
  EXPECT_TRUE(wb.is_leaf());
}

TEST(CheckpointTest, ModuleShapeMismatchAndKeys) {
  ScratchDir d;
  Tiny big(16, 1), small(8, 2);
  save_module(big, d.file("big"));
  const auto before = small.state_dict()[0].second.clone();
  std::string msg = error_of<Error>([&] { load_module(small, d.file("big")); });
  EXPECT_NE(msg.find("Error(s) in loading state_dict for Sequential:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("size mismatch for weight: copying a param with shape torch.Size([16, 1, 3, 3]) from checkpoint, "
                     "the shape in current model is torch.Size([8, 1, 3, 3])."),
            std::string::npos)
      << msg;
  EXPECT_TRUE(small.state_dict()[0].second.equal(before));  // nothing copied
  // missing and unexpected keys
  StateDict partial = Tiny(8, 3).state_dict();
  partial.erase(partial.begin() + 1);  // drop "bias"
  partial.emplace_back("extra", zeros({1}));
  save(partial, d.file("partial"));
  std::string m2 = error_of<Error>([&] { load_module(small, d.file("partial")); });
  EXPECT_NE(m2.find("Missing key(s) in state_dict: \"bias\"."), std::string::npos) << m2;
  EXPECT_NE(m2.find("Unexpected key(s) in state_dict: \"extra\"."), std::string::npos) << m2;
  EXPECT_NO_THROW(load_module(small, d.file("partial"), /*strict=*/false));
  EXPECT_TRUE(small.state_dict()[0].second.equal(Tiny(8, 3).state_dict()[0].second));
}

}  // namespace
}  // namespace actlab::nn
