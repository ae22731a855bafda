// actlab::tensorboard::SummaryWriter: PyTorch's torch.utils.tensorboard.SummaryWriter, writing
// TensorBoard event files without protobuf or Python.
//
//   actlab::tensorboard::SummaryWriter writer("runs/demo");
//   writer.add_scalar("loss", 0.25, /*step=*/10);
//   writer.add_histogram("relu_output", std::span<const float>(values), 10);
//   writer.add_images("batch", pixels, {16, 1, 28, 28}, 10);  // NCHW floats in [0, 1]
//
// Data comes in as spans with a shape; no dependency on actlab::Tensor.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "actlab/core/tensor.h"
#include "actlab/tensorboard/error.h"
#include "actlab/tensorboard/record.h"
#include "actlab/tensorboard/summary.h"

namespace actlab::tensorboard {

// One event file in one folder, as tensorboard's EventFileWriter. The constructor creates the
// folder if needed, a new file (O_EXCL: never an old one) and writes the file_version event at
// once. Later events wait in memory until `max_queue` of them are waiting, the background timer
// fires (every `flush_secs`), or flush()/close() is called; then each is written with one
// write() call. Thread-safe.
class EventFileWriter {
 public:
  explicit EventFileWriter(std::string log_dir, int max_queue = 10, double flush_secs = 120.0,
                           std::string filename_suffix = "");
  ~EventFileWriter();  // close(), errors swallowed
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  // Queues a serialized Event (see summary_event()).
  void add_event(std::string_view event);
  // Writes every queued event to the file (to the kernel; not fsync).
  void flush();
  // Flushes, stops the timer and closes the file. Later add_event() calls throw.
  void close();

  const std::string& log_dir() const { return log_dir_; }
  const std::string& file_path() const { return path_; }
  std::size_t queued() const;

 private:
  void write_queued_locked();
  void rethrow_deferred_locked();
  void timer_loop();

  std::string log_dir_;
  std::string path_;
  std::size_t max_queue_;
  double flush_secs_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::string> queue_;  // framed records
  std::unique_ptr<RecordFile> file_;
  std::string deferred_error_;  // a write error the timer thread could not throw
  bool closed_ = false;
  std::thread timer_;
};

class SummaryWriter {
 public:
  // `log_dir` "" means runs/<Mon><DD>_<HH>-<MM>-<SS>_<host><comment> in local time, e.g.
  // runs/Nov27_15-30-00_myhost. Creates the folder and the event file at once. max_queue < 1
  // is taken as 1 (write every event at once); flush_secs <= 0 likewise.
  explicit SummaryWriter(std::string log_dir = "", int max_queue = 10, double flush_secs = 120.0,
                         std::string filename_suffix = "", std::string comment = "");
  ~SummaryWriter();  // close(), errors swallowed
  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;

  const std::string& get_logdir() const { return log_dir_; }
  // The event file being written in log_dir (a new one after close() and a further add).
  std::string file_path();

  // Scalar as Summary.Value.simple_value (float32). `walltime` defaults to now.
  void add_scalar(const std::string& tag, double value, std::int64_t step = 0,
                  std::optional<double> walltime = std::nullopt);
  // PyTorch's add_scalars: each entry goes to its own writer in
  // <log_dir>/<main_tag with '/' as '_'>_<tag>, logged under `main_tag`, same walltime.
  void add_scalars(const std::string& main_tag, const std::map<std::string, double>& values,
                   std::int64_t step = 0, std::optional<double> walltime = std::nullopt);
  // Histogram over PyTorch's default bins (see make_histogram()).
  void add_histogram(const std::string& tag, std::span<const float> values, std::int64_t step = 0,
                     std::optional<double> walltime = std::nullopt);
  void add_histogram(const std::string& tag, std::span<const double> values,
                     std::int64_t step = 0, std::optional<double> walltime = std::nullopt);
  // An already-computed histogram (PyTorch's add_histogram_raw).
  void add_histogram_raw(const std::string& tag, const Histogram& histogram,
                         std::int64_t step = 0, std::optional<double> walltime = std::nullopt);
  // One image; `shape` matches `dataformats` ("CHW", "HWC", "HW", ...). Floats are in [0, 1].
  void add_image(const std::string& tag, std::span<const float> data,
                 const std::vector<std::int64_t>& shape, std::int64_t step = 0,
                 std::string_view dataformats = "CHW",
                 std::optional<double> walltime = std::nullopt);
  void add_image(const std::string& tag, std::span<const std::uint8_t> data,
                 const std::vector<std::int64_t>& shape, std::int64_t step = 0,
                 std::string_view dataformats = "CHW",
                 std::optional<double> walltime = std::nullopt);
  // A batch ("NCHW" or "NHWC", 1 or 3 channels) tiled into one image, at most 8 per row.
  void add_images(const std::string& tag, std::span<const float> data,
                  const std::vector<std::int64_t>& shape, std::int64_t step = 0,
                  std::string_view dataformats = "NCHW",
                  std::optional<double> walltime = std::nullopt);
  void add_images(const std::string& tag, std::span<const std::uint8_t> data,
                  const std::vector<std::int64_t>& shape, std::int64_t step = 0,
                  std::string_view dataformats = "NCHW",
                  std::optional<double> walltime = std::nullopt);
  // Tensor forms (any dtype and strides; values are converted to float), as PyTorch's writer takes tensors.
  void add_histogram(const std::string& tag, const Tensor& values, std::int64_t step = 0,
                     std::optional<double> walltime = std::nullopt);
  void add_image(const std::string& tag, const Tensor& image, std::int64_t step = 0,
                 std::string_view dataformats = "CHW", std::optional<double> walltime = std::nullopt);
  void add_images(const std::string& tag, const Tensor& images, std::int64_t step = 0,
                  std::string_view dataformats = "NCHW", std::optional<double> walltime = std::nullopt);
  // Text plugin (markdown), under tag "<tag>/text_summary".
  void add_text(const std::string& tag, std::string_view text, std::int64_t step = 0,
                std::optional<double> walltime = std::nullopt);
  // PyTorch's add_hparams: the hparams plugin's experiment, session_start_info and
  // session_end_info summaries and one scalar per metric, written by a new writer in
  // <log_dir>/<run_name>; run_name "" means the current time as Python's str(time.time()).
  void add_hparams(const std::map<std::string, HParamValue>& hparams,
                   const std::map<std::string, double>& metrics, const std::string& run_name = "",
                   std::int64_t step = 0);
  // Any serialized Summary (see summary.h), wrapped in an Event.
  void add_summary(std::string_view summary, std::int64_t step = 0,
                   std::optional<double> walltime = std::nullopt);

  // Writes everything queued in this writer and its add_scalars writers.
  void flush();
  // Flushes and closes every file. A later add_* opens a new event file, as PyTorch does.
  void close();

 private:
  EventFileWriter& file_writer();  // requires mu_

  std::string log_dir_;
  int max_queue_;
  double flush_secs_;
  std::string filename_suffix_;
  std::mutex mu_;
  std::unique_ptr<EventFileWriter> file_writer_;
  std::map<std::string, std::unique_ptr<EventFileWriter>> scalars_writers_;
};

// runs/<Mon><DD>_<HH>-<MM>-<SS>_<host><comment> for the given time (local time zone).
std::string default_log_dir(double wall_time, std::string_view host, std::string_view comment = "");

}  // namespace actlab::tensorboard
