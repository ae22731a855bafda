// Helpers for the TensorBoard tests: a scratch folder, an independent TFRecord parser that
// checks both CRCs of every record, and libprotobuf decoding of the events.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include "actlab/tensorboard/crc32c.h"
#include "tensorboard/tensorboard_test.pb.h"  // generated from tensorboard_test.proto

namespace actlab_test::tb_util {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("actlab_tb_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str(const std::string& sub = "") const {
    return sub.empty() ? path_.string() : (path_ / sub).string();
  }

 private:
  fs::path path_;
};

inline std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

inline std::uint64_t le(const std::string& s, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint64_t(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

// Parses every record, checking both masked CRCs; fails the test on damage. Returns the
// payloads. `allow_torn_tail` accepts an incomplete last record (and reports it).
inline std::vector<std::string> parse_records_checked(const std::string& bytes,
                                                      bool allow_torn_tail = false,
                                                      bool* torn = nullptr) {
  using actlab::tensorboard::masked_crc32c;
  std::vector<std::string> out;
  std::size_t at = 0;
  if (torn) *torn = false;
  while (at < bytes.size()) {
    const std::size_t left = bytes.size() - at;
    if (left < 12 || left < 16 + le(bytes, at, 8)) {
      if (torn) *torn = true;
      EXPECT_TRUE(allow_torn_tail) << "incomplete record at byte " << at;
      break;
    }
    const std::uint64_t len = le(bytes, at, 8);
    EXPECT_EQ(le(bytes, at + 8, 4), masked_crc32c(bytes.substr(at, 8)))
        << "length CRC of record " << out.size();
    const std::string data = bytes.substr(at + 12, len);
    EXPECT_EQ(le(bytes, at + 12 + len, 4), masked_crc32c(data)) << "data CRC of record "
                                                                 << out.size();
    out.push_back(data);
    at += 16 + len;
  }
  return out;
}

inline std::vector<fs::path> event_files(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::exists(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

inline std::vector<actlab_test::tb::Event> decode_events(const fs::path& file) {
  std::vector<actlab_test::tb::Event> events;
  for (const std::string& rec : parse_records_checked(read_file(file))) {
    actlab_test::tb::Event ev;
    EXPECT_TRUE(ev.ParseFromString(rec)) << "record " << events.size() << " of " << file;
    events.push_back(ev);
  }
  return events;
}

// The events of the only event file in `dir`.
inline std::vector<actlab_test::tb::Event> decode_dir(const fs::path& dir) {
  const auto files = event_files(dir);
  EXPECT_EQ(files.size(), 1u) << "event files in " << dir;
  if (files.empty()) return {};
  return decode_events(files.front());
}

}  // namespace actlab_test::tb_util
