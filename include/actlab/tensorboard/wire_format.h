// A small protocol-buffer wire-format encoder: enough to write TensorBoard's messages without
// linking libprotobuf. Fields are appended in the order they are written; write them in
// field-number order to match what protobuf's own serializers emit.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace actlab::tensorboard {

enum class WireType : std::uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kFixed32 = 5,
};

class ProtoEncoder {
 public:
  // Raw pieces.
  void varint(std::uint64_t v);
  void tag(std::uint32_t field, WireType type) {
    varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint32_t>(type));
  }
  void fixed32(std::uint32_t v);
  void fixed64(std::uint64_t v);

  // Whole fields. These always write, whatever the value (as protobuf does for a field in a
  // oneof); the *_if_nonzero forms skip proto3 default values, as protobuf does for plain
  // singular fields.
  void int64_field(std::uint32_t field, std::int64_t v);  // int64 and int32 (sign-extended)
  void uint64_field(std::uint32_t field, std::uint64_t v);
  void bool_field(std::uint32_t field, bool v) { uint64_field(field, v ? 1u : 0u); }
  void double_field(std::uint32_t field, double v);
  void float_field(std::uint32_t field, float v);
  void bytes_field(std::uint32_t field, std::string_view bytes);  // string, bytes, message
  void packed_double_field(std::uint32_t field, std::span<const double> values);

  void int64_field_if_nonzero(std::uint32_t field, std::int64_t v) {
    if (v != 0) int64_field(field, v);
  }
  void double_field_if_nonzero(std::uint32_t field, double v);  // -0.0 counts as set
  void bytes_field_if_nonempty(std::uint32_t field, std::string_view bytes) {
    if (!bytes.empty()) bytes_field(field, bytes);
  }
  void packed_double_field_if_nonempty(std::uint32_t field, std::span<const double> values) {
    if (!values.empty()) packed_double_field(field, values);
  }

  const std::string& bytes() const& { return out_; }
  std::string take() && { return std::move(out_); }
  std::size_t size() const { return out_.size(); }

 private:
  std::string out_;
};

}  // namespace actlab::tensorboard
