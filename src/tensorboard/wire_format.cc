#include "actlab/tensorboard/wire_format.h"

#include <bit>
#include <cstring>

namespace actlab::tensorboard {

void ProtoEncoder::varint(std::uint64_t v) {
  while (v >= 0x80u) {
    out_.push_back(static_cast<char>((v & 0x7Fu) | 0x80u));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void ProtoEncoder::fixed32(std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

void ProtoEncoder::fixed64(std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

void ProtoEncoder::int64_field(std::uint32_t field, std::int64_t v) {
  tag(field, WireType::kVarint);
  varint(static_cast<std::uint64_t>(v));  // negative values take ten bytes, as in protobuf
}

void ProtoEncoder::uint64_field(std::uint32_t field, std::uint64_t v) {
  tag(field, WireType::kVarint);
  varint(v);
}

void ProtoEncoder::double_field(std::uint32_t field, double v) {
  tag(field, WireType::kFixed64);
  fixed64(std::bit_cast<std::uint64_t>(v));
}

void ProtoEncoder::double_field_if_nonzero(std::uint32_t field, double v) {
  if (std::bit_cast<std::uint64_t>(v) != 0) double_field(field, v);
}

void ProtoEncoder::float_field(std::uint32_t field, float v) {
  tag(field, WireType::kFixed32);
  fixed32(std::bit_cast<std::uint32_t>(v));
}

void ProtoEncoder::bytes_field(std::uint32_t field, std::string_view bytes) {
  tag(field, WireType::kLengthDelimited);
  varint(bytes.size());
  out_.append(bytes.data(), bytes.size());
}

void ProtoEncoder::packed_double_field(std::uint32_t field, std::span<const double> values) {
  tag(field, WireType::kLengthDelimited);
  varint(values.size() * 8);
  out_.reserve(out_.size() + values.size() * 8);
  for (double v : values) fixed64(std::bit_cast<std::uint64_t>(v));
}

}  // namespace actlab::tensorboard
