// Summary and Event encoders. Field numbers follow tensorboard/compat/proto/{event,summary,
// histogram,tensor,tensor_shape}.proto and tensorboard/plugins/hparams/{api,plugin_data}.proto.
// Fields are written in field-number order; proto3 default values are left out except for
// members of a oneof, which protobuf always writes once set.
#include "actlab/tensorboard/summary.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>

#include "actlab/tensorboard/error.h"
#include "actlab/tensorboard/wire_format.h"

namespace actlab::tensorboard {
namespace {

// Event
constexpr std::uint32_t kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3,
                        kEventSummary = 5;
// Summary, Summary.Value
constexpr std::uint32_t kSummaryValue = 1;
constexpr std::uint32_t kValueTag = 1, kValueSimpleValue = 2, kValueImage = 4, kValueHisto = 5,
                        kValueTensor = 8, kValueMetadata = 9;
// Summary.Image
constexpr std::uint32_t kImageHeight = 1, kImageWidth = 2, kImageColorspace = 3,
                        kImageEncoded = 4;
// HistogramProto
constexpr std::uint32_t kHistoMin = 1, kHistoMax = 2, kHistoNum = 3, kHistoSum = 4,
                        kHistoSumSquares = 5, kHistoBucketLimit = 6, kHistoBucket = 7;
// SummaryMetadata, SummaryMetadata.PluginData
constexpr std::uint32_t kMetadataPluginData = 1;
constexpr std::uint32_t kPluginName = 1, kPluginContent = 2;
// TensorProto, TensorShapeProto, TensorShapeProto.Dim, DataType
constexpr std::uint32_t kTensorDtype = 1, kTensorShape = 2, kTensorStringVal = 8;
constexpr std::uint32_t kShapeDim = 2, kDimSize = 1;
constexpr std::int64_t kDtString = 7;
// hparams plugin: HParamsPluginData, Experiment, HParamInfo, MetricInfo, MetricName,
// SessionStartInfo (map entry key 1, value 2), SessionEndInfo, google.protobuf.Value
constexpr std::uint32_t kPluginDataExperiment = 2, kPluginDataSessionStart = 3,
                        kPluginDataSessionEnd = 4;
constexpr std::uint32_t kExperimentHParamInfos = 4, kExperimentMetricInfos = 5;
constexpr std::uint32_t kHParamInfoName = 1, kHParamInfoType = 4;
constexpr std::uint32_t kMetricInfoName = 1, kMetricNameTag = 2;
constexpr std::uint32_t kSessionStartHParams = 1, kMapKey = 1, kMapValue = 2;
constexpr std::uint32_t kSessionEndStatus = 1;
constexpr std::uint32_t kStructNumberValue = 2, kStructStringValue = 3;
constexpr std::int64_t kDataTypeString = 1, kDataTypeFloat64 = 3, kStatusSuccess = 1;

std::string one_value_summary(std::string_view value) {
  ProtoEncoder s;
  s.bytes_field(kSummaryValue, value);
  return std::move(s).take();
}

std::string plugin_metadata(std::string_view plugin_name, std::string_view content) {
  ProtoEncoder pd;
  pd.bytes_field_if_nonempty(kPluginName, plugin_name);
  pd.bytes_field_if_nonempty(kPluginContent, content);
  ProtoEncoder md;
  md.bytes_field(kMetadataPluginData, pd.bytes());
  return std::move(md).take();
}

// ---- numpy-compatible float64 sums ----

// numpy's pairwise summation (pairwise_sum_DOUBLE in loops_utils.h), which np.sum uses for a
// contiguous float64 array; it makes our sums bit-identical with PyTorch's in most cases.
double pairwise_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double res = 0.0;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

// ---- images ----

struct Layout {
  std::int64_t n = 1, c = 1, h = 0, w = 0;
  std::int64_t sn = 0, sc = 0, sh = 0, sw = 0;  // element strides
  int rank = 0;
};

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Layout parse_layout(const std::vector<std::int64_t>& shape, std::string_view dataformats,
                    std::size_t numel) {
  std::string fmt(dataformats);
  for (char& ch : fmt) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  std::string sorted = fmt;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != "HW" && sorted != "CHW" && sorted != "CHNW")
    throw TensorboardError("add_image: dataformats must order the axes HW, HWC or NCHW (e.g. "
                           "\"CHW\", \"HWC\", \"HW\", \"NCHW\", \"NHWC\"), got \"" +
                           std::string(dataformats) + "\"");
  if (shape.size() != fmt.size())
    throw TensorboardError("add_image: size of input tensor and input format are different: "
                           "tensor shape " + shape_string(shape) + ", dataformats \"" +
                           std::string(dataformats) + "\"");
  std::uint64_t count = 1;
  for (std::int64_t d : shape) {
    if (d < 0)
      throw TensorboardError("add_image: negative dimension in shape " + shape_string(shape));
    count *= static_cast<std::uint64_t>(d);
  }
  if (count != numel)
    throw TensorboardError("add_image: shape " + shape_string(shape) + " holds " +
                           std::to_string(count) + " elements but the data has " +
                           std::to_string(numel));
  Layout l;
  l.rank = static_cast<int>(fmt.size());
  std::int64_t stride = 1;
  for (int i = l.rank - 1; i >= 0; --i) {
    switch (fmt[i]) {
      case 'N': l.n = shape[i]; l.sn = stride; break;
      case 'C': l.c = shape[i]; l.sc = stride; break;
      case 'H': l.h = shape[i]; l.sh = stride; break;
      case 'W': l.w = shape[i]; l.sw = stride; break;
      default: break;
    }
    stride *= shape[i];
  }
  if (l.h == 0 || l.w == 0) throw TensorboardError("add_image: image " + shape_string(shape) +
                                                   " has no pixels");
  if (l.rank == 4) {
    if (l.n == 0) throw TensorboardError("add_images: the batch has no images");
    if (l.c != 1 && l.c != 3)
      throw TensorboardError("add_images: make_grid takes images with 1 or 3 channels, got " +
                             std::to_string(l.c));
  } else if (l.c < 1 || l.c > 4) {
    throw TensorboardError("add_image: images need 1, 2, 3 or 4 channels (gray, gray+alpha, "
                           "RGB, RGBA), got " + std::to_string(l.c));
  }
  return l;
}

inline std::uint8_t to_pixel(float x) {
  const float scaled = x * 255.0f;  // float32 multiply, as numpy does
  if (!(scaled > 0.0f)) return 0;   // negatives, zero and NaN
  if (scaled >= 255.0f) return 255;
  return static_cast<std::uint8_t>(scaled);  // truncation, as astype(np.uint8)
}
inline std::uint8_t to_pixel(std::uint8_t x) { return x; }

template <class T>
Image make_image_impl(std::span<const T> data, const std::vector<std::int64_t>& shape,
                      std::string_view dataformats) {
  const Layout l = parse_layout(shape, dataformats, data.size());
  // Output channels: 1-channel input repeats into RGB (convert_to_HWC / make_grid).
  const int out_c = l.c == 1 ? 3 : static_cast<int>(l.c);
  std::int64_t ncols = 1, nrows = 1;
  if (l.rank == 4) {
    ncols = std::min<std::int64_t>(l.n, 8);
    nrows = (l.n + ncols - 1) / ncols;
  }
  Image img;
  img.height = l.h * nrows;
  img.width = l.w * ncols;
  img.channels = out_c;
  img.pixels.assign(static_cast<std::size_t>(img.height * img.width * out_c), 0);
  for (std::int64_t i = 0; i < l.n; ++i) {
    const std::int64_t y0 = (i / ncols) * l.h, x0 = (i % ncols) * l.w;
    for (std::int64_t y = 0; y < l.h; ++y) {
      std::uint8_t* row = img.pixels.data() + ((y0 + y) * img.width + x0) * out_c;
      const T* src = data.data() + i * l.sn + y * l.sh;
      for (std::int64_t x = 0; x < l.w; ++x) {
        const T* px = src + x * l.sw;
        for (int c = 0; c < out_c; ++c) {
          const std::int64_t sc = l.c == 1 ? 0 : c;
          row[x * out_c + c] = to_pixel(px[sc * l.sc]);
        }
      }
    }
  }
  return img;
}

}  // namespace

// ---- events ----

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string file_version_event(double wall_time) {
  ProtoEncoder e;
  e.double_field_if_nonzero(kEventWallTime, wall_time);
  e.bytes_field(kEventFileVersion, "brain.Event:2");
  return std::move(e).take();
}

std::string summary_event(double wall_time, std::int64_t step, std::string_view summary) {
  ProtoEncoder e;
  e.double_field_if_nonzero(kEventWallTime, wall_time);
  e.int64_field_if_nonzero(kEventStep, step);
  e.bytes_field(kEventSummary, summary);
  return std::move(e).take();
}

// ---- histograms ----

const std::vector<double>& default_histogram_bins() {
  static const std::vector<double> bins = [] {
    std::vector<double> pos;
    for (double v = 1e-12; v < 1e20; v *= 1.1) pos.push_back(v);
    std::vector<double> edges;
    edges.reserve(2 * pos.size() + 1);
    for (auto it = pos.rbegin(); it != pos.rend(); ++it) edges.push_back(-*it);
    edges.push_back(0.0);
    edges.insert(edges.end(), pos.begin(), pos.end());
    return edges;
  }();
  return bins;
}

Histogram make_histogram(std::span<const double> values, std::span<const double> bins) {
  if (values.empty()) throw TensorboardError("add_histogram: The input has no element.");
  if (bins.size() < 2)
    throw TensorboardError("add_histogram: bins need at least two edges, got " +
                           std::to_string(bins.size()));
  for (std::size_t i = 1; i < bins.size(); ++i)
    if (!(bins[i - 1] < bins[i]))
      throw TensorboardError("add_histogram: bins must increase strictly (edge " +
                             std::to_string(i) + ")");

  std::vector<std::int64_t> counts(bins.size() - 1, 0);
  const double lo = bins.front(), hi = bins.back();
  double mn = std::numeric_limits<double>::infinity(), mx = -mn, sq = 0.0;
  bool any_nan = false;
  for (double x : values) {
    if (std::isnan(x)) {
      any_nan = true;
      continue;
    }
    mn = std::min(mn, x);
    mx = std::max(mx, x);
    sq += x * x;
    if (x < lo || x > hi) continue;
    std::size_t i = static_cast<std::size_t>(std::upper_bound(bins.begin(), bins.end(), x) -
                                             bins.begin()) - 1;
    if (i == counts.size()) --i;  // x == last edge: the last bucket is closed
    ++counts[i];
  }
  if (any_nan) {
    mn = mx = sq = std::numeric_limits<double>::quiet_NaN();
  }

  std::size_t first = counts.size(), last = 0;
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (counts[i] > 0) {
      if (first == counts.size()) first = i;
      last = i;
    }
  if (first == counts.size())
    throw TensorboardError("add_histogram: no value lies inside the bins (all are NaN, "
                           "infinite or beyond +-1e20); The histogram is empty");

  Histogram h;
  // TensorBoard keeps only right edges; one empty bucket on the left keeps the left edge.
  if (first > 0) {
    for (std::size_t i = first - 1; i <= last; ++i) h.bucket.push_back(double(counts[i]));
    h.bucket_limit.assign(bins.begin() + first, bins.begin() + last + 2);
  } else {
    h.bucket.push_back(0.0);
    for (std::size_t i = 0; i <= last; ++i) h.bucket.push_back(double(counts[i]));
    h.bucket_limit.assign(bins.begin(), bins.begin() + last + 2);
  }
  h.min = mn;
  h.max = mx;
  h.num = static_cast<double>(values.size());
  h.sum = 0.0 + pairwise_sum(values.data(), values.size());
  h.sum_squares = sq;
  return h;
}

Histogram make_histogram(std::span<const float> values, std::span<const double> bins) {
  std::vector<double> wide(values.begin(), values.end());
  return make_histogram(std::span<const double>(wide), bins);
}

std::string histogram_summary(std::string_view tag, const Histogram& h) {
  ProtoEncoder hp;
  hp.double_field_if_nonzero(kHistoMin, h.min);
  hp.double_field_if_nonzero(kHistoMax, h.max);
  hp.double_field_if_nonzero(kHistoNum, h.num);
  hp.double_field_if_nonzero(kHistoSum, h.sum);
  hp.double_field_if_nonzero(kHistoSumSquares, h.sum_squares);
  hp.packed_double_field_if_nonempty(kHistoBucketLimit, h.bucket_limit);
  hp.packed_double_field_if_nonempty(kHistoBucket, h.bucket);
  ProtoEncoder v;
  v.bytes_field_if_nonempty(kValueTag, tag);
  v.bytes_field(kValueHisto, hp.bytes());
  return one_value_summary(v.bytes());
}

// ---- images ----

Image make_image(std::span<const float> data, const std::vector<std::int64_t>& shape,
                 std::string_view dataformats) {
  return make_image_impl(data, shape, dataformats);
}

Image make_image(std::span<const std::uint8_t> data, const std::vector<std::int64_t>& shape,
                 std::string_view dataformats) {
  return make_image_impl(data, shape, dataformats);
}

std::string image_summary(std::string_view tag, const Image& image) {
  const std::string png = encode_png(image);
  ProtoEncoder im;
  im.int64_field_if_nonzero(kImageHeight, image.height);
  im.int64_field_if_nonzero(kImageWidth, image.width);
  im.int64_field_if_nonzero(kImageColorspace, image.channels);
  im.bytes_field_if_nonempty(kImageEncoded, png);
  ProtoEncoder v;
  v.bytes_field_if_nonempty(kValueTag, tag);
  v.bytes_field(kValueImage, im.bytes());
  return one_value_summary(v.bytes());
}

// ---- scalars and text ----

std::string scalar_summary(std::string_view tag, float value) {
  ProtoEncoder v;
  v.bytes_field_if_nonempty(kValueTag, tag);
  v.float_field(kValueSimpleValue, value);  // a oneof member: written even when 0
  return one_value_summary(v.bytes());
}

std::string text_summary(std::string_view tag, std::string_view text) {
  ProtoEncoder dim;
  dim.int64_field_if_nonzero(kDimSize, 1);
  ProtoEncoder shape;
  shape.bytes_field(kShapeDim, dim.bytes());
  ProtoEncoder tensor;
  tensor.int64_field(kTensorDtype, kDtString);
  tensor.bytes_field(kTensorShape, shape.bytes());
  tensor.bytes_field(kTensorStringVal, text);  // repeated: written even when empty
  ProtoEncoder v;
  v.bytes_field(kValueTag, std::string(tag) + "/text_summary");
  v.bytes_field(kValueTensor, tensor.bytes());
  // TextPluginData{version: 0} serializes to no bytes.
  v.bytes_field(kValueMetadata, plugin_metadata("text", ""));
  return one_value_summary(v.bytes());
}

// ---- hparams ----

HParamsSummaries hparams_summaries(const std::map<std::string, HParamValue>& hparams,
                                   const std::map<std::string, double>& metrics) {
  auto summary_with = [](std::string_view tag, std::uint32_t data_field, std::string_view data) {
    ProtoEncoder content;  // HParamsPluginData{version: 0 (not written), <data>}
    content.bytes_field(data_field, data);
    ProtoEncoder v;
    v.bytes_field(kValueTag, tag);
    v.bytes_field(kValueMetadata, plugin_metadata("hparams", content.bytes()));
    return one_value_summary(v.bytes());
  };

  ProtoEncoder ssi;
  ProtoEncoder experiment;
  for (const auto& [name, value] : hparams) {
    ProtoEncoder sv;  // google.protobuf.Value
    if (value.is_number())
      sv.double_field(kStructNumberValue, value.number());
    else
      sv.bytes_field(kStructStringValue, value.string());
    ProtoEncoder entry;
    entry.bytes_field(kMapKey, name);
    entry.bytes_field(kMapValue, sv.bytes());
    ssi.bytes_field(kSessionStartHParams, entry.bytes());

    ProtoEncoder info;
    info.bytes_field_if_nonempty(kHParamInfoName, name);
    info.int64_field(kHParamInfoType, value.is_number() ? kDataTypeFloat64 : kDataTypeString);
    experiment.bytes_field(kExperimentHParamInfos, info.bytes());
  }
  for (const auto& [name, value] : metrics) {
    (void)value;
    ProtoEncoder metric_name;
    metric_name.bytes_field_if_nonempty(kMetricNameTag, name);
    ProtoEncoder info;
    info.bytes_field(kMetricInfoName, metric_name.bytes());
    experiment.bytes_field(kExperimentMetricInfos, info.bytes());
  }
  ProtoEncoder sei;
  sei.int64_field(kSessionEndStatus, kStatusSuccess);

  HParamsSummaries out;
  out.experiment = summary_with("_hparams_/experiment", kPluginDataExperiment, experiment.bytes());
  out.session_start_info =
      summary_with("_hparams_/session_start_info", kPluginDataSessionStart, ssi.bytes());
  out.session_end_info =
      summary_with("_hparams_/session_end_info", kPluginDataSessionEnd, sei.bytes());
  return out;
}

}  // namespace actlab::tensorboard
