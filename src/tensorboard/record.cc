#include "actlab/tensorboard/record.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "actlab/tensorboard/crc32c.h"
#include "actlab/tensorboard/error.h"

namespace actlab::tensorboard {
namespace {

void put_le(std::string& out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

std::uint64_t get_le(std::string_view in, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

}  // namespace

std::string frame_record(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  put_le(out, data.size(), 8);
  put_le(out, masked_crc32c(std::string_view(out.data(), 8)), 4);
  out.append(data.data(), data.size());
  put_le(out, masked_crc32c(data), 4);
  return out;
}

std::string event_file_name(double wall_time, std::string_view host, long pid,
                            std::uint64_t counter, std::string_view suffix) {
  // Python's "%010d" % time.time() truncates the seconds toward zero.
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%010lld", static_cast<long long>(std::trunc(wall_time)));
  std::string name = "events.out.tfevents.";
  name += seconds;
  name += '.';
  name += host;
  name += '.';
  name += std::to_string(pid);
  name += '.';
  name += std::to_string(counter);
  name += suffix;
  return name;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

RecordFile::RecordFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw TensorboardError("SummaryWriter: cannot create event file '" + path_ +
                           "': " + std::strerror(errno));
}

RecordFile::~RecordFile() {
  if (fd_ >= 0) ::close(fd_);
}

void RecordFile::write_framed(std::string_view framed) {
  if (fd_ < 0) throw TensorboardError("SummaryWriter: event file '" + path_ + "' is closed");
  const char* p = framed.data();
  std::size_t left = framed.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw TensorboardError("SummaryWriter: cannot write event file '" + path_ +
                             "': " + std::strerror(errno));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void RecordFile::sync() {
  if (fd_ >= 0 && ::fsync(fd_) != 0 && errno != EINVAL)
    throw TensorboardError("SummaryWriter: cannot sync event file '" + path_ +
                           "': " + std::strerror(errno));
}

void RecordFile::close() {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 && errno != EINTR)
    throw TensorboardError("SummaryWriter: cannot close event file '" + path_ +
                           "': " + std::strerror(errno));
}

RecordScan parse_records(std::string_view in, const std::string& what) {
  RecordScan scan;
  std::size_t at = 0;
  while (at < in.size()) {
    const std::size_t left = in.size() - at;
    if (left < 12) {
      scan.truncated_tail_bytes = left;
      break;
    }
    const std::uint64_t length = get_le(in, at, 8);
    const auto length_crc = static_cast<std::uint32_t>(get_le(in, at + 8, 4));
    if (length_crc != masked_crc32c(in.substr(at, 8)))
      throw TensorboardError("read_records: " + what + ": bad length CRC in record " +
                             std::to_string(scan.records.size()) + " at byte " +
                             std::to_string(at));
    if (length > left - 12 || left - 12 - length < 4) {
      scan.truncated_tail_bytes = left;
      break;
    }
    std::string_view data = in.substr(at + 12, length);
    const auto data_crc = static_cast<std::uint32_t>(get_le(in, at + 12 + length, 4));
    if (data_crc != masked_crc32c(data))
      throw TensorboardError("read_records: " + what + ": bad data CRC in record " +
                             std::to_string(scan.records.size()) + " at byte " +
                             std::to_string(at));
    scan.records.emplace_back(data);
    at += 16 + length;
  }
  return scan;
}

RecordScan read_records(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw TensorboardError("read_records: cannot open '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw TensorboardError("read_records: cannot read '" + path + "'");
  return parse_records(bytes, "'" + path + "'");
}

}  // namespace actlab::tensorboard
