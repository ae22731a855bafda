#include "actlab/tensorboard/summary_writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <filesystem>

namespace actlab::tensorboard {
namespace {

double wall_or_now(std::optional<double> walltime) { return walltime ? *walltime : now_seconds(); }

// Python's str(float) for a time stamp: the shortest round-trip digits, at least one decimal.
std::string python_float_string(double v) {
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  std::string s(buf.data(), ec == std::errc() ? end : buf.data());
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string default_log_dir(double wall_time, std::string_view host, std::string_view comment) {
  static constexpr std::array<const char*, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto t = static_cast<std::time_t>(std::floor(wall_time));
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%s%02d_%02d-%02d-%02d", kMonths[tm.tm_mon % 12], tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string dir = "runs/";
  dir += stamp;
  dir += '_';
  dir += host;
  dir += comment;
  return dir;
}

SummaryWriter::SummaryWriter(std::string log_dir, int max_queue, double flush_secs,
                             std::string filename_suffix, std::string comment)
    : log_dir_(log_dir.empty() ? default_log_dir(now_seconds(), host_name(), comment)
                               : std::move(log_dir)),
      max_queue_(max_queue),
      flush_secs_(flush_secs),
      filename_suffix_(std::move(filename_suffix)) {
  std::lock_guard lk(mu_);
  file_writer();
}

SummaryWriter::~SummaryWriter() {
  try {
    close();
  } catch (...) {
  }
}

EventFileWriter& SummaryWriter::file_writer() {
  if (!file_writer_)
    file_writer_ =
        std::make_unique<EventFileWriter>(log_dir_, max_queue_, flush_secs_, filename_suffix_);
  return *file_writer_;
}

std::string SummaryWriter::file_path() {
  std::lock_guard lk(mu_);
  return file_writer().file_path();
}

void SummaryWriter::add_summary(std::string_view summary, std::int64_t step,
                                std::optional<double> walltime) {
  const std::string event = summary_event(wall_or_now(walltime), step, summary);
  std::lock_guard lk(mu_);
  file_writer().add_event(event);
}

void SummaryWriter::add_scalar(const std::string& tag, double value, std::int64_t step,
                               std::optional<double> walltime) {
  add_summary(scalar_summary(tag, static_cast<float>(value)), step, walltime);
}

void SummaryWriter::add_scalars(const std::string& main_tag,
                                const std::map<std::string, double>& values, std::int64_t step,
                                std::optional<double> walltime) {
  const double wall = wall_or_now(walltime);
  std::string prefix = main_tag;
  for (char& ch : prefix)
    if (ch == '/') ch = '_';
  std::lock_guard lk(mu_);
  const std::string fw_logdir = file_writer().log_dir();
  for (const auto& [tag, value] : values) {
    const std::string fw_tag = fw_logdir + "/" + prefix + "_" + tag;
    auto& writer = scalars_writers_[fw_tag];
    if (!writer)
      writer = std::make_unique<EventFileWriter>(fw_tag, max_queue_, flush_secs_, filename_suffix_);
    writer->add_event(summary_event(wall, step, scalar_summary(main_tag, static_cast<float>(value))));
  }
}

void SummaryWriter::add_histogram(const std::string& tag, std::span<const float> values,
                                  std::int64_t step, std::optional<double> walltime) {
  add_summary(histogram_summary(tag, make_histogram(values)), step, walltime);
}

void SummaryWriter::add_histogram(const std::string& tag, std::span<const double> values,
                                  std::int64_t step, std::optional<double> walltime) {
  add_summary(histogram_summary(tag, make_histogram(values)), step, walltime);
}

void SummaryWriter::add_histogram_raw(const std::string& tag, const Histogram& histogram,
                                      std::int64_t step, std::optional<double> walltime) {
  if (histogram.bucket_limit.size() != histogram.bucket.size())
    throw TensorboardError("add_histogram_raw: len(bucket_limits) != len(bucket_counts) (" +
                           std::to_string(histogram.bucket_limit.size()) + " vs " +
                           std::to_string(histogram.bucket.size()) + ")");
  add_summary(histogram_summary(tag, histogram), step, walltime);
}

void SummaryWriter::add_image(const std::string& tag, std::span<const float> data,
                              const std::vector<std::int64_t>& shape, std::int64_t step,
                              std::string_view dataformats, std::optional<double> walltime) {
  add_summary(image_summary(tag, make_image(data, shape, dataformats)), step, walltime);
}

void SummaryWriter::add_image(const std::string& tag, std::span<const std::uint8_t> data,
                              const std::vector<std::int64_t>& shape, std::int64_t step,
                              std::string_view dataformats, std::optional<double> walltime) {
  add_summary(image_summary(tag, make_image(data, shape, dataformats)), step, walltime);
}

void SummaryWriter::add_images(const std::string& tag, std::span<const float> data,
                               const std::vector<std::int64_t>& shape, std::int64_t step,
                               std::string_view dataformats, std::optional<double> walltime) {
  add_summary(image_summary(tag, make_image(data, shape, dataformats)), step, walltime);
}

void SummaryWriter::add_images(const std::string& tag, std::span<const std::uint8_t> data,
                               const std::vector<std::int64_t>& shape, std::int64_t step,
                               std::string_view dataformats, std::optional<double> walltime) {
  add_summary(image_summary(tag, make_image(data, shape, dataformats)), step, walltime);
}

void SummaryWriter::add_text(const std::string& tag, std::string_view text, std::int64_t step,
                             std::optional<double> walltime) {
  add_summary(text_summary(tag, text), step, walltime);
}

void SummaryWriter::add_hparams(const std::map<std::string, HParamValue>& hparams,
                                const std::map<std::string, double>& metrics,
                                const std::string& run_name, std::int64_t step) {
  const HParamsSummaries s = hparams_summaries(hparams, metrics);
  std::string logdir;
  {
    std::lock_guard lk(mu_);
    logdir = file_writer().log_dir();
  }
  const std::string run = run_name.empty() ? python_float_string(now_seconds()) : run_name;
  logdir = (std::filesystem::path(logdir) / run).string();
  SummaryWriter w(logdir, max_queue_, flush_secs_, filename_suffix_);
  w.add_summary(s.experiment, step);
  w.add_summary(s.session_start_info, step);
  w.add_summary(s.session_end_info, step);
  for (const auto& [name, value] : metrics) w.add_scalar(name, value, step);
  w.close();
}

void SummaryWriter::flush() {
  std::lock_guard lk(mu_);
  if (file_writer_) file_writer_->flush();
  for (auto& [dir, writer] : scalars_writers_) writer->flush();
}

void SummaryWriter::close() {
  std::lock_guard lk(mu_);
  std::string error;
  auto close_one = [&](std::unique_ptr<EventFileWriter>& w) {
    if (!w) return;
    try {
      w->close();
    } catch (const std::exception& e) {
      if (error.empty()) error = e.what();
    }
    w.reset();
  };
  close_one(file_writer_);
  for (auto& [dir, writer] : scalars_writers_) close_one(writer);
  scalars_writers_.clear();
  if (!error.empty()) throw TensorboardError(error);
}

}  // namespace actlab::tensorboard
