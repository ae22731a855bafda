// TFRecord framing and the event file on disk.
//
// A record is: uint64 length (little-endian), uint32 masked CRC-32C of those 8 length bytes,
// `length` data bytes, uint32 masked CRC-32C of the data. Each record reaches the file in one
// write() call, so a process that dies leaves at most a truncated last record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace actlab::tensorboard {

// The framed bytes of one record holding `data`.
std::string frame_record(std::string_view data);

// `events.out.tfevents.<10-digit seconds>.<host>.<pid>.<counter><suffix>`, as TensorBoard's
// EventFileWriter names its files. `counter` makes names unique within one process.
std::string event_file_name(double wall_time, std::string_view host, long pid,
                            std::uint64_t counter, std::string_view suffix = "");

// This machine's host name ("localhost" when it cannot be read).
std::string host_name();

// A new event file, created with O_CREAT | O_EXCL: never an existing file, never appended to.
class RecordFile {
 public:
  // Creates `path`; throws TensorboardError if it exists or cannot be created.
  explicit RecordFile(std::string path);
  ~RecordFile();
  RecordFile(const RecordFile&) = delete;
  RecordFile& operator=(const RecordFile&) = delete;

  // Writes one already-framed record with a single write() call (retried only for the part a
  // signal or a full disk left unwritten). Throws TensorboardError on failure.
  void write_framed(std::string_view framed);
  void write_record(std::string_view data) { write_framed(frame_record(data)); }
  // fsync(2): asks the kernel to put the data on disk.
  void sync();
  void close();
  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Reads an event file record by record, checking both CRCs of each. A torn tail (fewer bytes
// than its header promises, as a crash can leave) ends the scan and is reported, not thrown; a
// CRC mismatch in a complete record throws TensorboardError.
struct RecordScan {
  std::vector<std::string> records;
  std::uint64_t truncated_tail_bytes = 0;  // bytes of an incomplete last record, 0 if none
};
RecordScan read_records(const std::string& path);
RecordScan parse_records(std::string_view file_bytes, const std::string& what = "event data");

}  // namespace actlab::tensorboard
