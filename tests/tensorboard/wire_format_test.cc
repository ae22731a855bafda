#include "actlab/tensorboard/wire_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "actlab/tensorboard/summary.h"
#include "tensorboard/tensorboard_test.pb.h"  // generated from tensorboard_test.proto

namespace actlab::tensorboard {
namespace {

std::string hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string varint_bytes(std::uint64_t v) {
  ProtoEncoder e;
  e.varint(v);
  return hex(e.bytes());
}

TEST(TensorboardWireFormatTest, Varints) {
  EXPECT_EQ(varint_bytes(0), "00");
  EXPECT_EQ(varint_bytes(1), "01");
  EXPECT_EQ(varint_bytes(127), "7f");
  EXPECT_EQ(varint_bytes(128), "8001");
  EXPECT_EQ(varint_bytes(300), "ac02");
  EXPECT_EQ(varint_bytes(std::numeric_limits<std::uint64_t>::max()), "ffffffffffffffffff01");
}

TEST(TensorboardWireFormatTest, FieldsByHand) {
  ProtoEncoder e;
  e.int64_field(2, -1);  // negative int64: ten-byte varint
  EXPECT_EQ(hex(e.bytes()), "10ffffffffffffffffff01");
  ProtoEncoder f;
  f.float_field(2, 1.0f);  // tag (2 << 3) | 5, then 0x3f800000 little-endian
  EXPECT_EQ(hex(f.bytes()), "150000803f");
  ProtoEncoder d;
  d.double_field(1, -2.0);
  EXPECT_EQ(hex(d.bytes()), "0900000000000000c0");
  ProtoEncoder b;
  b.bytes_field(1, "hi");
  EXPECT_EQ(hex(b.bytes()), "0a026869");
  ProtoEncoder p;
  const std::vector<double> v = {1.0, 0.5};
  p.packed_double_field(6, v);
  EXPECT_EQ(hex(p.bytes()), "3210000000000000f03f000000000000e03f");
  ProtoEncoder z;
  z.double_field_if_nonzero(1, 0.0);
  z.int64_field_if_nonzero(2, 0);
  z.bytes_field_if_nonempty(3, "");
  z.packed_double_field_if_nonempty(6, {});
  EXPECT_EQ(z.size(), 0u);
  z.double_field_if_nonzero(1, -0.0);  // -0.0 is not the default bit pattern: written
  EXPECT_EQ(hex(z.bytes()), "090000000000000080");
}

TEST(TensorboardWireFormatTest, EventsDecodeWithLibprotobuf) {
  const std::string scalar = scalar_summary("loss", 0.25f);
  actlab_test::tb::Event ev;
  ASSERT_TRUE(ev.ParseFromString(summary_event(1700000000.25, -5, scalar)));
  EXPECT_EQ(ev.wall_time(), 1700000000.25);
  EXPECT_EQ(ev.step(), -5);
  ASSERT_TRUE(ev.has_summary());
  ASSERT_EQ(ev.summary().value_size(), 1);
  EXPECT_EQ(ev.summary().value(0).tag(), "loss");
  EXPECT_EQ(ev.summary().value(0).simple_value(), 0.25f);

  // Large step: multi-byte varint.
  ASSERT_TRUE(ev.ParseFromString(summary_event(1.0, (std::int64_t{1} << 40) + 3, scalar)));
  EXPECT_EQ(ev.step(), (std::int64_t{1} << 40) + 3);

  // Our bytes equal libprotobuf's own serialization of the same message.
  actlab_test::tb::Event ref;
  ref.set_wall_time(1700000000.25);
  ref.set_step(42);
  auto* v = ref.mutable_summary()->add_value();
  v->set_tag("loss");
  v->set_simple_value(0.0f);
  std::string ref_bytes;
  ASSERT_TRUE(ref.SerializeToString(&ref_bytes));
  EXPECT_EQ(hex(summary_event(1700000000.25, 42, scalar_summary("loss", 0.0f))), hex(ref_bytes));

  actlab_test::tb::Event ref_fv;
  ref_fv.set_wall_time(123.5);
  ref_fv.set_file_version("brain.Event:2");
  ASSERT_TRUE(ref_fv.SerializeToString(&ref_bytes));
  EXPECT_EQ(hex(file_version_event(123.5)), hex(ref_bytes));
}

TEST(TensorboardWireFormatTest, HistogramMatchesLibprotobufSerialization) {
  Histogram h;
  h.min = -1.5;
  h.max = 2.0;
  h.num = 3;
  h.sum = 0.5;
  h.sum_squares = 6.25;
  h.bucket_limit = {-1.0, 0.0, 2.0};
  h.bucket = {0.0, 1.0, 2.0};
  actlab_test::tb::Summary ref;
  auto* v = ref.add_value();
  v->set_tag("h");
  auto* hp = v->mutable_histo();
  hp->set_min(-1.5);
  hp->set_max(2.0);
  hp->set_num(3);
  hp->set_sum(0.5);
  hp->set_sum_squares(6.25);
  for (double x : h.bucket_limit) hp->add_bucket_limit(x);
  for (double x : h.bucket) hp->add_bucket(x);
  std::string ref_bytes;
  ASSERT_TRUE(ref.SerializeToString(&ref_bytes));
  EXPECT_EQ(hex(histogram_summary("h", h)), hex(ref_bytes));
}

TEST(TensorboardWireFormatTest, TextMatchesLibprotobufSerialization) {
  actlab_test::tb::Summary ref;
  auto* v = ref.add_value();
  v->set_tag("notes/text_summary");
  auto* t = v->mutable_tensor();
  t->set_dtype(7);
  t->mutable_tensor_shape()->add_dim()->set_size(1);
  t->add_string_val("hello");
  v->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  std::string ref_bytes;
  ASSERT_TRUE(ref.SerializeToString(&ref_bytes));
  EXPECT_EQ(hex(text_summary("notes", "hello")), hex(ref_bytes));
}

}  // namespace
}  // namespace actlab::tensorboard
