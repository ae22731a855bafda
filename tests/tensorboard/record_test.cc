#include "actlab/tensorboard/record.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <csignal>
#include <cstring>
#include <regex>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "actlab/tensorboard/crc32c.h"
#include "actlab/tensorboard/error.h"
#include "actlab/tensorboard/summary.h"
#include "actlab/tensorboard/summary_writer.h"
#include "event_file_test_util.h"

namespace actlab::tensorboard {
namespace {

using actlab_test::tb_util::decode_events;
using actlab_test::tb_util::event_files;
using actlab_test::tb_util::parse_records_checked;
using actlab_test::tb_util::read_file;
using actlab_test::tb_util::ScratchDir;

std::string bytes_of(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

TEST(TensorboardRecordTest, FirstRecordByteForByte) {
  // Event{wall_time: 2^30, file_version: "brain.Event:2"}, framed; every byte written out.
  std::string expected;
  expected += bytes_of({0x18, 0, 0, 0, 0, 0, 0, 0});      // length 24, little-endian uint64
  expected += bytes_of({0xa3, 0x7f, 0x4b, 0x22});          // masked CRC-32C of the length
  expected += bytes_of({0x09});                            // field 1, fixed64: wall_time
  expected += bytes_of({0, 0, 0, 0, 0, 0, 0xd0, 0x41});    // 1073741824.0 little-endian
  expected += bytes_of({0x1a, 0x0d});                      // field 3, length-delimited, 13
  expected += "brain.Event:2";
  expected += bytes_of({0xd1, 0xe1, 0x5d, 0x95});          // masked CRC-32C of the data
  // (The two CRCs come from a bit-at-a-time CRC-32C outside this library.)
  EXPECT_EQ(frame_record(file_version_event(1073741824.0)), expected);
  EXPECT_EQ(expected.size(), 16u + 24u);
}

TEST(TensorboardRecordTest, WriterFirstRecordIsFileVersionEvent) {
  ScratchDir dir;
  std::string path;
  {
    EventFileWriter w(dir.str());
    path = w.file_path();
  }
  const std::string bytes = read_file(path);
  const auto records = parse_records_checked(bytes);
  ASSERT_EQ(records.size(), 1u);
  actlab_test::tb::Event ev;
  ASSERT_TRUE(ev.ParseFromString(records[0]));
  EXPECT_EQ(ev.file_version(), "brain.Event:2");
  EXPECT_EQ(ev.step(), 0);
  EXPECT_NEAR(ev.wall_time(), now_seconds(), 60.0);
  // Byte for byte what the encoder makes for that wall time: wall_time and file_version only.
  EXPECT_EQ(bytes, frame_record(file_version_event(ev.wall_time())));
  EXPECT_EQ(bytes.size(), 16u + 24u);
}

TEST(TensorboardRecordTest, FileNaming) {
  EXPECT_EQ(event_file_name(1700000000.9, "myhost", 1234, 5),
            "events.out.tfevents.1700000000.myhost.1234.5");
  EXPECT_EQ(event_file_name(12.5, "h", 1, 0, ".v2"), "events.out.tfevents.0000000012.h.1.0.v2");

  ScratchDir dir;
  EventFileWriter a(dir.str()), b(dir.str(), 10, 120, "-suffix");
  const std::string name_a = std::filesystem::path(a.file_path()).filename().string();
  const std::string name_b = std::filesystem::path(b.file_path()).filename().string();
  const std::regex pattern(R"(events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+)(.*))");
  std::smatch ma, mb;
  ASSERT_TRUE(std::regex_match(name_a, ma, pattern)) << name_a;
  ASSERT_TRUE(std::regex_match(name_b, mb, pattern)) << name_b;
  EXPECT_EQ(ma[2].str(), host_name());
  EXPECT_EQ(ma[3].str(), std::to_string(::getpid()));
  EXPECT_EQ(ma[5].str(), "");
  EXPECT_EQ(mb[5].str(), "-suffix");
  EXPECT_LT(std::stoull(ma[4].str()), std::stoull(mb[4].str()));  // counter: unique per process
  EXPECT_NEAR(std::stod(ma[1].str()), now_seconds(), 60.0);
  EXPECT_EQ(std::filesystem::path(a.file_path()).parent_path(), dir.path());
}

TEST(TensorboardRecordTest, NeverAppendsToAnOldFile) {
  ScratchDir dir;
  const std::string old_file = dir.str("events.out.tfevents.0000000001.old.1.0");
  { std::ofstream(old_file) << "old contents"; }
  {
    SummaryWriter w1(dir.str());
    w1.add_scalar("x", 1.0, 1);
    SummaryWriter w2(dir.str());
    w2.add_scalar("x", 2.0, 2);
  }
  EXPECT_EQ(read_file(old_file), "old contents");
  const auto files = event_files(dir.path());
  ASSERT_EQ(files.size(), 3u);
  int fresh = 0;
  for (const auto& f : files) {
    if (f == old_file) continue;
    const auto events = decode_events(f);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].file_version(), "brain.Event:2");
    ++fresh;
  }
  EXPECT_EQ(fresh, 2);
  // The low-level file refuses an existing path outright (O_EXCL).
  EXPECT_THROW(RecordFile{old_file}, TensorboardError);
}

TEST(TensorboardRecordTest, TruncatedLastRecordIsTheOnlyDamage) {
  ScratchDir dir;
  const std::string path = dir.str("records");
  std::vector<std::string> payloads = {"", "a", std::string(300, 'b'), "last record"};
  {
    RecordFile f(path);
    for (const auto& p : payloads) f.write_record(p);
  }
  const std::string bytes = read_file(path);
  std::vector<std::size_t> ends;
  std::size_t at = 0;
  for (const auto& p : payloads) ends.push_back(at += 16 + p.size());
  ASSERT_EQ(bytes.size(), ends.back());

  const RecordScan whole = read_records(path);
  EXPECT_EQ(whole.records, payloads);
  EXPECT_EQ(whole.truncated_tail_bytes, 0u);

  // Cut anywhere: every record before the cut survives, the torn one is reported, no throw.
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    const RecordScan scan = parse_records(std::string_view(bytes).substr(0, cut));
    std::size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    ASSERT_EQ(scan.records.size(), complete) << "cut at " << cut;
    for (std::size_t i = 0; i < complete; ++i) EXPECT_EQ(scan.records[i], payloads[i]);
    const std::size_t start = complete ? ends[complete - 1] : 0;
    EXPECT_EQ(scan.truncated_tail_bytes, cut - start) << "cut at " << cut;
  }
}

TEST(TensorboardRecordTest, DamagedRecordIsRejected) {
  ScratchDir dir;
  const std::string path = dir.str("records");
  {
    RecordFile f(path);
    f.write_record("first");
    f.write_record("second");
  }
  std::string bytes = read_file(path);
  std::string bad_data = bytes;
  bad_data[16 + 5 + 12 + 2] ^= 0x01;  // inside "second"
  EXPECT_THROW(
      {
        try {
          parse_records(bad_data);
        } catch (const TensorboardError& e) {
          EXPECT_NE(std::string(e.what()).find("bad data CRC in record 1"), std::string::npos)
              << e.what();
          throw;
        }
      },
      TensorboardError);
  std::string bad_length = bytes;
  bad_length[0] ^= 0x04;
  EXPECT_THROW(parse_records(bad_length), TensorboardError);
  EXPECT_THROW(read_records(dir.str("missing")), TensorboardError);
}

// A writer killed with SIGKILL in the middle of logging leaves a file whose records all parse,
// with at most a truncated last one.
TEST(TensorboardRecordTest, KilledWriterLeavesParsableFile) {
  ScratchDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      SummaryWriter w(dir.str(), /*max_queue=*/1);
      const std::string text(2000, 't');
      for (std::int64_t step = 1;; ++step) {
        w.add_scalar("loss", 1.0 / static_cast<double>(step), step);
        w.add_text("note", text, step);
      }
    } catch (...) {
    }
    ::_exit(3);
  }
  // Wait until the child has written a good amount, then kill it mid-stream.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::uintmax_t size = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto files = event_files(dir.path());
    if (!files.empty()) {
      std::error_code ec;
      size = std::filesystem::file_size(files[0], ec);
      if (size > 200000) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child ended with status " << status;
  ASSERT_GT(size, 200000u);

  const auto files = event_files(dir.path());
  ASSERT_EQ(files.size(), 1u);
  bool torn = false;
  const auto records = parse_records_checked(read_file(files[0]), /*allow_torn_tail=*/true, &torn);
  ASSERT_GT(records.size(), 10u);
  actlab_test::tb::Event ev;
  ASSERT_TRUE(ev.ParseFromString(records[0]));
  EXPECT_EQ(ev.file_version(), "brain.Event:2");
  for (std::size_t i = 1; i < records.size(); ++i) {
    ASSERT_TRUE(ev.ParseFromString(records[i])) << "record " << i;
    EXPECT_EQ(ev.step(), static_cast<std::int64_t>((i + 1) / 2)) << "record " << i;
  }
  EXPECT_NO_THROW(read_records(files[0].string()));
}

}  // namespace
}  // namespace actlab::tensorboard
