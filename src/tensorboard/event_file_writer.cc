#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "actlab/tensorboard/summary_writer.h"

namespace actlab::tensorboard {
namespace {

// Makes event file names unique within this process, as tensorboard's _global_uid.
std::atomic<std::uint64_t> g_file_counter{0};

}  // namespace

EventFileWriter::EventFileWriter(std::string log_dir, int max_queue, double flush_secs,
                                 std::string filename_suffix)
    : log_dir_(std::move(log_dir)),
      max_queue_(static_cast<std::size_t>(std::max(max_queue, 1))),
      flush_secs_(flush_secs) {
  namespace fs = std::filesystem;
  if (log_dir_.empty()) throw TensorboardError("SummaryWriter: log_dir is empty");
  std::error_code ec;
  fs::create_directories(log_dir_, ec);
  if (ec)
    throw TensorboardError("SummaryWriter: cannot create log_dir '" + log_dir_ +
                           "': " + ec.message());
  if (!fs::is_directory(log_dir_, ec))
    throw TensorboardError("SummaryWriter: log_dir '" + log_dir_ + "' is not a directory");
  if (!(flush_secs_ > 0.0)) max_queue_ = 1;  // no timer: write every event at once

  const double now = now_seconds();
  const std::string host = host_name();
  const long pid = static_cast<long>(::getpid());
  for (;;) {
    path_ = (fs::path(log_dir_) / event_file_name(now, host, pid, g_file_counter.fetch_add(1),
                                                  filename_suffix))
                .string();
    if (!fs::exists(fs::symlink_status(path_, ec))) break;  // taken (another process?): next
  }
  file_ = std::make_unique<RecordFile>(path_);  // O_CREAT | O_EXCL
  file_->write_record(file_version_event(now_seconds()));

  if (flush_secs_ > 0.0) timer_ = std::thread([this] { timer_loop(); });
}

EventFileWriter::~EventFileWriter() {
  try {
    close();
  } catch (...) {
  }
  if (timer_.joinable()) {  // close() threw before joining
    {
      std::lock_guard lk(mu_);
      closed_ = true;
    }
    wake_.notify_all();
    timer_.join();
  }
}

void EventFileWriter::timer_loop() {
  // Clamp the period so that a huge flush_secs cannot overflow the clock arithmetic.
  const auto period = std::chrono::duration<double>(std::clamp(flush_secs_, 1e-3, 1e7));
  const auto period_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(period);
  std::unique_lock lk(mu_);
  while (!closed_) {
    if (wake_.wait_for(lk, period_ns, [this] { return closed_; })) break;
    try {
      write_queued_locked();
    } catch (const std::exception& e) {
      if (deferred_error_.empty()) deferred_error_ = e.what();
    }
  }
}

void EventFileWriter::write_queued_locked() {
  std::size_t done = 0;
  try {
    for (; done < queue_.size(); ++done) file_->write_framed(queue_[done]);
  } catch (...) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(done));
    throw;
  }
  queue_.clear();
}

void EventFileWriter::rethrow_deferred_locked() {
  if (deferred_error_.empty()) return;
  std::string message = std::move(deferred_error_);
  deferred_error_.clear();
  throw TensorboardError(message);
}

void EventFileWriter::add_event(std::string_view event) {
  std::string framed = frame_record(event);  // CRCs outside the lock
  std::lock_guard lk(mu_);
  rethrow_deferred_locked();
  if (closed_)
    throw TensorboardError("SummaryWriter: cannot add an event: event file '" + path_ +
                           "' is closed");
  queue_.push_back(std::move(framed));
  if (queue_.size() >= max_queue_) write_queued_locked();
}

void EventFileWriter::flush() {
  std::lock_guard lk(mu_);
  rethrow_deferred_locked();
  if (closed_) return;
  write_queued_locked();
}

std::size_t EventFileWriter::queued() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

void EventFileWriter::close() {
  std::unique_lock lk(mu_);
  if (closed_) return;
  closed_ = true;
  std::string error;
  try {
    write_queued_locked();
  } catch (const std::exception& e) {
    error = e.what();
  }
  lk.unlock();
  wake_.notify_all();
  if (timer_.joinable()) timer_.join();
  lk.lock();
  try {
    file_->close();
  } catch (const std::exception& e) {
    if (error.empty()) error = e.what();
  }
  if (error.empty()) error = std::move(deferred_error_);
  deferred_error_.clear();
  if (!error.empty()) throw TensorboardError(error);
}

}  // namespace actlab::tensorboard
