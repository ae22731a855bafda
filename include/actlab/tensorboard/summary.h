// TensorBoard summaries as bytes: histograms, images, text, hparams and the Event messages
// that carry them, following PyTorch 1.13's torch/utils/tensorboard/summary.py. Everything
// here works on plain spans, so it does not depend on actlab's Tensor.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "actlab/tensorboard/png.h"

namespace actlab::tensorboard {

// ---- events -------------------------------------------------------------------------------

// Seconds since the Unix epoch, as Python's time.time().
double now_seconds();

// The first event of every file: Event{wall_time, file_version: "brain.Event:2"}. Step 0 is
// not written (proto3 leaves default values out), so it reads back as 0.
std::string file_version_event(double wall_time);

// Event{wall_time, step, summary}; `summary` is a serialized Summary.
std::string summary_event(double wall_time, std::int64_t step, std::string_view summary);

// ---- histograms ---------------------------------------------------------------------------

struct Histogram {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> bucket_limit;  // right edge of each bucket
  std::vector<double> bucket;        // count of each bucket
};

// PyTorch's SummaryWriter.default_bins: v = 1e-12, multiplied by 1.1 while v < 1e20; the
// negatives reversed, then 0, then the positives (1549 edges, 1548 buckets).
const std::vector<double>& default_histogram_bins();

// PyTorch's make_histogram: counts as np.histogram(values, bins) (buckets [e_i, e_i+1), the
// last one closed; values outside the edges or NaN are not counted but still enter num, min,
// max, sum), then the buckets cut to the occupied range plus one empty bucket on the left so
// that the leftmost edge shows. min/max/sum/sum_squares over all values in float64. Throws
// TensorboardError for no values ("The input has no element.") or nothing inside the edges.
// `bins` must be strictly increasing, with at least two edges.
Histogram make_histogram(std::span<const double> values,
                         std::span<const double> bins = default_histogram_bins());
Histogram make_histogram(std::span<const float> values,
                         std::span<const double> bins = default_histogram_bins());

// ---- images -------------------------------------------------------------------------------

// PyTorch's image(): `data` laid out row-major as `shape`, whose axes `dataformats` names
// (any order of HW, HWC, or NCHW; case-insensitive). 1-channel and HW images become RGB
// (PyTorch's convert_to_HWC repeats the channel); 3-d images may have 1, 2, 3 or 4 channels;
// 4-d batches (1 or 3 channels) are tiled by make_grid: at most 8 per row, no padding,
// unfilled tiles black. Floats are scaled as (x * 255).clip(0, 255).astype(uint8): multiplied
// in float32, clipped, then truncated (NaN becomes 0); uint8 data is taken as is.
Image make_image(std::span<const float> data, const std::vector<std::int64_t>& shape,
                 std::string_view dataformats);
Image make_image(std::span<const std::uint8_t> data, const std::vector<std::int64_t>& shape,
                 std::string_view dataformats);

// ---- hparams ------------------------------------------------------------------------------

// An hparam value: a number or a string. As in PyTorch, where bool is an int, true and false
// are the numbers 1 and 0.
class HParamValue {
 public:
  template <class T>
    requires std::is_arithmetic_v<T>
  HParamValue(T v) : value_(static_cast<double>(v)) {}  // NOLINT(google-explicit-constructor)
  HParamValue(std::string v) : value_(std::move(v)) {}  // NOLINT(google-explicit-constructor)
  HParamValue(const char* v) : value_(std::string(v)) {}  // NOLINT(google-explicit-constructor)

  bool is_number() const { return std::holds_alternative<double>(value_); }
  double number() const { return std::get<double>(value_); }
  const std::string& string() const { return std::get<std::string>(value_); }

 private:
  std::variant<double, std::string> value_;
};

struct HParamsSummaries {
  std::string experiment;          // tag "_hparams_/experiment"
  std::string session_start_info;  // tag "_hparams_/session_start_info"
  std::string session_end_info;    // tag "_hparams_/session_end_info", status SUCCESS
};

// ---- Summary messages (each a serialized Summary with one Value) ---------------------------

std::string scalar_summary(std::string_view tag, float value);
std::string histogram_summary(std::string_view tag, const Histogram& histogram);
// Encodes `image` as PNG; colorspace = channels.
std::string image_summary(std::string_view tag, const Image& image);
// Text plugin: tag "<tag>/text_summary", a DT_STRING tensor of shape [1].
std::string text_summary(std::string_view tag, std::string_view text);
// The hparams plugin's three summaries, as PyTorch's hparams() builds them.
HParamsSummaries hparams_summaries(const std::map<std::string, HParamValue>& hparams,
                                   const std::map<std::string, double>& metrics);

}  // namespace actlab::tensorboard
