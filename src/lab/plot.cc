// SVG line and bar charts, and self-contained HTML pages. See actlab/lab/plot.h for the conventions.
//
// Layout model: a chart is a canvas of width x height pixels. The frame (the plotting area) sits inside it,
// with margins for the title, tick labels and axis labels; a legend, if any, is laid out in rows below the
// canvas and makes the SVG taller. Data values map linearly (or linearly in log10) onto the frame.
#include "actlab/lab/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace actlab::lab::plot {

namespace {

// ---- constants ----------------------------------------------------------------------------------------

// Series / group colours, cycled in order: twelve hues that stay distinguishable on white.
constexpr const char* kPalette[] = {
    "#2f6db5", "#e8731c", "#2e9e44", "#d0343a", "#8b5fbf", "#8c5a4a",
    "#de6fb8", "#6f6f6f", "#a8a51c", "#1fb0c4", "#1b3f80", "#f2b134",
};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

constexpr double kFontSize = 11;       // ticks, legend, axis labels
constexpr double kTitleFontSize = 13;  // chart title
constexpr double kCharWidth = 6.3;     // rough advance of one 11px sans-serif character, for layout
constexpr double kLegendRow = 17;      // height of one legend row
constexpr double kLineInset = 6;       // line charts keep data this far inside the frame (padding)
// Mapped pixel coordinates are clamped to this distance from the canvas, so a far outlier (clipped away
// anyway) cannot print a 300-digit number.
constexpr double kMaxPixel = 1e5;

const char* colour(size_t i) { return kPalette[i % kPaletteSize]; }

// ---- number formatting --------------------------------------------------------------------------------

// Removes trailing zeros after a decimal point ("2.50" -> "2.5", "3.00" -> "3"); turns "-0" into "0".
std::string trim_zeros(std::string s) {
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

// A pixel coordinate or length: at most two decimals, no trailing zeros.
std::string num(double v) {
  v = std::clamp(v, -kMaxPixel, kMaxPixel);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return trim_zeros(buf);
}

// Scientific notation with `digits` digits after the point, written compactly: 1.5e-6, 2e5.
std::string sci(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", std::clamp(digits, 0, 15), v);
  std::string s = buf;
  size_t e = s.find('e');
  std::string mantissa = trim_zeros(s.substr(0, e));
  int exponent = std::atoi(s.c_str() + e + 1);
  return mantissa + "e" + std::to_string(exponent);
}

// A data value for tooltips: up to 4 significant digits.
std::string value_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  double a = std::abs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) return sci(v, 3);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return trim_zeros(buf);
}

// Approximate rendered width of a text in pixels (layout only needs to be roughly right).
double text_width(std::string_view s, double font_size = kFontSize) {
  size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;  // count UTF-8 code points, not bytes
  return static_cast<double>(chars) * kCharWidth * font_size / kFontSize;
}

// ---- axes ---------------------------------------------------------------------------------------------

struct Tick {
  double at;  // position in domain units (log10 units on a log axis)
  std::string label;
};

// One axis: its domain, tick positions and labels, and the pixel interval the domain maps onto.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;     // domain; in log10 units on a log axis; always lo < hi
  std::vector<Tick> ticks;   // major ticks, labelled
  std::vector<double> minor; // unlabelled minor ticks (log axes: 2..9 times each decade)
  double p_lo = 0, p_hi = 1; // pixel positions of lo and hi

  // Whether `v` can be placed on this axis at all.
  bool usable(double v) const { return std::isfinite(v) && (!log || v > 0); }
  double domain(double v) const { return log ? std::log10(v) : v; }
  // Pixel position of a domain value.
  // (Halved differences: hi - lo itself overflows for a range like [-1e308, 1e308].)
  double px_domain(double d) const { return p_lo + (d / 2 - lo / 2) / (hi / 2 - lo / 2) * (p_hi - p_lo); }
  // Pixel position of a data value (which must be usable()).
  double px(double v) const { return px_domain(domain(v)); }
  // Whether a data value lies inside the domain (with a little tolerance for rounding).
  bool contains(double v) const {
    if (!usable(v)) return false;
    double d = domain(v), eps = (hi - lo) * 1e-9;
    return d >= lo - eps && d <= hi + eps;
  }
};

// The closest "nice" step (1, 2 or 5 times a power of ten) to `raw`, with that power's exponent.
double nice_step(double raw, int* exponent) {
  int e = static_cast<int>(std::floor(std::log10(raw)));
  double mag = std::pow(10.0, e);
  double f = raw / mag;
  double m = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  if (m == 10) {
    m = 1;
    ++e;
  }
  *exponent = e;
  return m * std::pow(10.0, e);
}

// Makes [lo, hi] a usable, non-empty range: a non-finite bound gives [0, 1]; an empty (or, relative to its
// magnitude, vanishing) range is padded by 10% of the value on each side (by 1 around zero).
void widen(double& lo, double& hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
    return;
  }
  if (lo > hi) std::swap(lo, hi);
  double mag = std::max(std::abs(lo), std::abs(hi));
  if (hi - lo <= mag * 1e-9) {
    double mid = lo / 2 + hi / 2;
    double pad = mag > 0 ? mag * 0.1 : 1;
    lo = mid - pad;
    hi = mid + pad;
  }
}

// The label of a linear tick at `v`, a multiple of 10^exponent: plain decimals with just enough digits, or
// scientific notation.
std::string linear_label(double v, int exponent, bool use_sci) {
  if (v == 0 || std::abs(v) < std::pow(10.0, exponent) * 1e-6) {
    return std::string(1, '0');  // also catches a k * step that rounding left a hair away from zero
  }
  if (use_sci) {
    int mag = static_cast<int>(std::floor(std::log10(std::abs(v)) + 1e-9));
    return sci(v, mag - exponent);
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "%.*f", std::clamp(-exponent, 0, 20), v);
  return trim_zeros(buf);
}

// A linear axis over [lo, hi] with about `target` ticks. Each end with expand_* set is rounded outwards to a
// tick; the others stay exactly where they are (fixed ranges).
Axis linear_axis(double lo, double hi, int target, bool expand_lo, bool expand_hi) {
  widen(lo, hi);
  target = std::max(target, 2);
  int exponent = 0;
  // hi/target - lo/target rather than (hi - lo)/target: the difference of two huge values may overflow.
  double step = nice_step(hi / target - lo / target, &exponent);
  if (!(step > 1e-300) || !std::isfinite(step)) {  // a range within the denormals: give up on precision
    lo = -1;
    hi = 1;
    step = nice_step(0.5, &exponent);
  }
  Axis a;
  a.lo = lo;
  a.hi = hi;
  if (expand_lo) a.lo = std::floor(lo / step) * step;
  if (expand_hi) a.hi = std::ceil(hi / step) * step;
  if (!std::isfinite(a.lo) || !std::isfinite(a.hi) || a.lo >= a.hi) {
    a.lo = lo;
    a.hi = hi;
  }
  // Ticks are k * step for integer k (computed from k, not accumulated, so no drift). There are about
  // 1.5 * target + 2 of them at most; the cap only guards against surprises of floating point.
  double eps = step * 1e-9;
  for (double k = std::ceil((a.lo - eps) / step); k * step <= a.hi + eps && a.ticks.size() < 100; ++k)
    a.ticks.push_back({k * step, std::string()});
  // One label style for the whole axis: scientific when its values are huge or tiny.
  double largest = 0;
  for (const Tick& t : a.ticks) largest = std::max(largest, std::abs(t.at));
  bool use_sci = largest >= 1e5 || (largest > 0 && largest < 1e-3);
  for (Tick& t : a.ticks) t.label = linear_label(t.at, exponent, use_sci);
  return a;
}

// The label of the decade tick 10^k on a log axis: "0.01", "100" when `plain`, else "1e-2", "1e2".
std::string decade_label(int k, bool plain) {
  char buf[64];
  if (!plain) {
    std::snprintf(buf, sizeof buf, "1e%d", k);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", std::max(-k, 0), std::pow(10.0, k));
  }
  return buf;
}

// A log10 axis over [lo, hi] (both > 0) with ticks on decades, at most about `target` labelled ones (every
// 1st, 2nd, 5th, 10th... decade). Ends with expand_* set are rounded outwards to whole decades.
Axis log_axis(double lo, double hi, int target, bool expand_lo, bool expand_hi) {
  Axis a;
  a.log = true;
  double l = std::log10(lo), h = std::log10(hi);
  widen(l, h);  // degenerate ranges are padded in log units
  if (expand_lo) l = std::floor(l);
  if (expand_hi) h = std::ceil(h);
  if (h - l < 1 && expand_lo && expand_hi) {  // show at least one whole decade
    l = std::floor(l);
    h = l + 1;
  }
  a.lo = l;
  a.hi = h;
  target = std::max(target * 3 / 2, 2);  // decade labels are short: they can sit closer than linear ones
  double decades = h - l;
  int stride = 1;
  for (int s : {1, 2, 5, 10, 20, 50, 100}) {
    stride = s;
    if (decades / s <= target) break;
  }
  // Labelled decades start at the lowest one in range; an expanded top end moves up to the next labelled one.
  if (expand_hi && stride > 1) {
    double first = std::ceil(l - 1e-9);
    a.hi = h = first + std::ceil((h - first) / stride - 1e-9) * stride;
  }
  std::vector<int> ks;
  for (double k = std::ceil(l - 1e-9); k <= h + 1e-9; k += stride) ks.push_back(static_cast<int>(k));
  bool plain = std::all_of(ks.begin(), ks.end(), [](int k) { return k >= -3 && k <= 4; });
  for (int k : ks) a.ticks.push_back({static_cast<double>(k), decade_label(k, plain)});
  if (stride == 1 && decades <= 12) {
    for (double k = std::floor(l); k <= h; ++k)
      for (int j = 2; j <= 9; ++j) {
        double d = k + std::log10(j);
        if (d > l && d < h) a.minor.push_back(d);
      }
  }
  return a;
}

// An axis for the values in [lo, hi] (lo > hi when there are none), on a log or linear scale, honouring the
// fixed bounds that are set (a non-finite one, or a non-positive one on a log axis, is ignored).
Axis make_axis(double lo, double hi, bool log, const std::optional<double>& fixed_lo,
               const std::optional<double>& fixed_hi, int target) {
  auto valid = [log](const std::optional<double>& b) { return b.has_value() && std::isfinite(*b) && (!log || *b > 0); };
  const bool has_lo = valid(fixed_lo), has_hi = valid(fixed_hi);
  if (lo > hi) {  // no data: a default range
    lo = log ? 1 : 0;
    hi = log ? 10 : 1;
  }
  if (has_lo) lo = *fixed_lo;
  if (has_hi) hi = *fixed_hi;
  if (lo > hi) {
    // A single fixed bound on the wrong side of the data: keep the fixed one, derive the other from it.
    if (has_lo && has_hi) {
      std::swap(lo, hi);
    } else if (has_lo) {
      hi = log ? lo * 10 : lo + std::max(std::abs(lo), 1.0);
    } else {
      lo = log ? hi / 10 : hi - std::max(std::abs(hi), 1.0);
    }
  }
  return log ? log_axis(lo, hi, target, !has_lo, !has_hi) : linear_axis(lo, hi, target, !has_lo, !has_hi);
}

// ---- SVG assembly -------------------------------------------------------------------------------------

// Frame (plotting area) in canvas pixels.
struct Frame {
  double left, top, right, bottom;
};

// A legend entry: a label and how to draw its swatch.
struct LegendEntry {
  std::string label;
  const char* colour;
  bool dashed = false;
  bool box = false;  // a filled square (bars) rather than a line sample (series)
};

// 64-bit FNV-1a: a deterministic, content-derived id, so that several charts on one page never share a
// clip-path id unless their content (and hence the clip rectangle) is identical.
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Lays out the legend in rows that fit `width`, starting at canvas y = `y0`; returns the SVG and adds the
// height it takes to *height.
std::string legend_svg(const std::vector<LegendEntry>& entries, double width, double y0, double* height) {
  if (entries.empty()) return "";
  constexpr double kSwatch = 22, kGap = 6, kSpacing = 16, kMargin = 12;
  // First assign entries to rows, then centre each row.
  std::vector<std::vector<size_t>> rows(1);
  std::vector<double> row_width(1, 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    double w = kSwatch + kGap + text_width(entries[i].label);
    double needed = row_width.back() == 0 ? w : row_width.back() + kSpacing + w;
    if (needed > width - 2 * kMargin && !rows.back().empty()) {
      rows.emplace_back();
      row_width.push_back(0);
      needed = w;
    }
    rows.back().push_back(i);
    row_width.back() = needed;
  }
  std::ostringstream o;
  o << "<g class=\"legend\" font-size=\"" << kFontSize << "\">";
  for (size_t r = 0; r < rows.size(); ++r) {
    double x = std::max(kMargin, (width - row_width[r]) / 2);
    double y = y0 + kLegendRow * static_cast<double>(r) + kLegendRow / 2;
    for (size_t i : rows[r]) {
      const LegendEntry& e = entries[i];
      if (e.box) {
        o << "<rect x=\"" << num(x + 6) << "\" y=\"" << num(y - 5) << "\" width=\"10\" height=\"10\" fill=\""
          << e.colour << "\"/>";
      } else {
        o << "<line x1=\"" << num(x) << "\" y1=\"" << num(y) << "\" x2=\"" << num(x + kSwatch) << "\" y2=\""
          << num(y) << "\" stroke=\"" << e.colour << "\" stroke-width=\"2\""
          << (e.dashed ? " stroke-dasharray=\"5 3\"" : "") << "/>";
      }
      o << "<text x=\"" << num(x + kSwatch + kGap) << "\" y=\"" << num(y) << "\" dy=\"0.35em\">"
        << html_escape(e.label) << "</text>";
      x += kSwatch + kGap + text_width(e.label) + kSpacing;
    }
  }
  o << "</g>";
  *height += kLegendRow * static_cast<double>(rows.size()) + 6;
  return o.str();
}

// Opening tag and <title> of a chart's <svg>.
std::string svg_open(const std::string& title, double width, double height) {
  std::ostringstream o;
  o << "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << num(width) << ' '
    << num(height) << "\" width=\"" << num(width) << "\" height=\"" << num(height)
    << "\" role=\"img\" font-family=\"sans-serif\" font-size=\"" << kFontSize << "\">"
    << "<title>" << html_escape(title) << "</title>"
    << "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>";
  return o.str();
}

// Title text centred over the canvas.
std::string title_svg(const std::string& title, double width) {
  if (title.empty()) return "";
  std::ostringstream o;
  o << "<text class=\"title\" x=\"" << num(width / 2) << "\" y=\"19\" text-anchor=\"middle\" font-size=\""
    << kTitleFontSize << "\" font-weight=\"bold\">" << html_escape(title) << "</text>";
  return o.str();
}

// Horizontal grid lines and labelled ticks of the y axis, at the frame's left edge.
std::string y_axis_svg(const Axis& y, const Frame& f) {
  std::ostringstream o;
  o << "<g class=\"y-axis\">";
  for (const Tick& t : y.ticks) {
    std::string py = num(y.px_domain(t.at));
    o << "<line x1=\"" << num(f.left) << "\" x2=\"" << num(f.right) << "\" y1=\"" << py << "\" y2=\"" << py
      << "\" stroke=\"#e4e4e4\"/>"
      << "<line x1=\"" << num(f.left - 4) << "\" x2=\"" << num(f.left) << "\" y1=\"" << py << "\" y2=\"" << py
      << "\" stroke=\"#444\"/>"
      << "<text x=\"" << num(f.left - 7) << "\" y=\"" << py << "\" dy=\"0.35em\" text-anchor=\"end\">"
      << html_escape(t.label) << "</text>";
  }
  for (double d : y.minor) {
    std::string py = num(y.px_domain(d));
    o << "<line x1=\"" << num(f.left - 2) << "\" x2=\"" << num(f.left) << "\" y1=\"" << py << "\" y2=\"" << py
      << "\" stroke=\"#444\"/>";
  }
  o << "</g>";
  return o.str();
}

// Vertical grid lines and labelled ticks of a numeric x axis, at the frame's bottom edge.
std::string x_axis_svg(const Axis& x, const Frame& f) {
  std::ostringstream o;
  o << "<g class=\"x-axis\">";
  for (const Tick& t : x.ticks) {
    std::string px = num(x.px_domain(t.at));
    o << "<line x1=\"" << px << "\" x2=\"" << px << "\" y1=\"" << num(f.top) << "\" y2=\"" << num(f.bottom)
      << "\" stroke=\"#e4e4e4\"/>"
      << "<line x1=\"" << px << "\" x2=\"" << px << "\" y1=\"" << num(f.bottom) << "\" y2=\""
      << num(f.bottom + 4) << "\" stroke=\"#444\"/>"
      << "<text x=\"" << px << "\" y=\"" << num(f.bottom + 16) << "\" text-anchor=\"middle\">"
      << html_escape(t.label) << "</text>";
  }
  for (double d : x.minor) {
    std::string px = num(x.px_domain(d));
    o << "<line x1=\"" << px << "\" x2=\"" << px << "\" y1=\"" << num(f.bottom) << "\" y2=\""
      << num(f.bottom + 2) << "\" stroke=\"#444\"/>";
  }
  o << "</g>";
  return o.str();
}

// Rotated y-axis label, left of the tick labels.
std::string y_label_svg(const std::string& label, const Frame& f) {
  if (label.empty()) return "";
  std::ostringstream o;
  double cy = (f.top + f.bottom) / 2;
  o << "<text class=\"axis-label\" x=\"14\" y=\"" << num(cy) << "\" text-anchor=\"middle\" transform=\"rotate(-90 14 "
    << num(cy) << ")\" dy=\"0.35em\">" << html_escape(label) << "</text>";
  return o.str();
}

// Dashed horizontal reference lines with their labels (those inside the y domain).
std::string hlines_svg(const std::vector<std::pair<double, std::string>>& hlines, const Axis& y, const Frame& f) {
  std::ostringstream o;
  for (const auto& [value, label] : hlines) {
    if (!y.contains(value)) continue;
    std::string py = num(y.px(value));
    o << "<g class=\"ref\"><line x1=\"" << num(f.left) << "\" x2=\"" << num(f.right) << "\" y1=\"" << py
      << "\" y2=\"" << py << "\" stroke=\"#777\" stroke-dasharray=\"4 3\"/>";
    if (!label.empty())
      o << "<text x=\"" << num(f.right - 4) << "\" y=\"" << num(y.px(value) - 4)
        << "\" text-anchor=\"end\" font-size=\"10\" fill=\"#555\">" << html_escape(label) << "</text>";
    o << "</g>";
  }
  return o.str();
}

// "no data" note centred in the frame.
std::string no_data_svg(const Frame& f) {
  std::ostringstream o;
  o << "<text class=\"no-data\" x=\"" << num((f.left + f.right) / 2) << "\" y=\"" << num((f.top + f.bottom) / 2)
    << "\" text-anchor=\"middle\" dy=\"0.35em\" fill=\"#999\" font-size=\"13\">no data</text>";
  return o.str();
}

std::string frame_svg(const Frame& f) {
  std::ostringstream o;
  o << "<rect class=\"frame\" x=\"" << num(f.left) << "\" y=\"" << num(f.top) << "\" width=\""
    << num(f.right - f.left) << "\" height=\"" << num(f.bottom - f.top) << "\" fill=\"none\" stroke=\"#444\"/>";
  return o.str();
}

// Widest tick label of an axis, in pixels.
double widest_label(const Axis& a) {
  double w = 0;
  for (const Tick& t : a.ticks) w = std::max(w, text_width(t.label));
  return w;
}

// Replaces every occurrence of `from` in `s` by `to`.
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

}  // namespace

// ---- public API -----------------------------------------------------------------------------------------

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string svg(const Chart& chart) {
  const double width = std::max(chart.width, 120), height = std::max(chart.height, 100);
  Axis probe_x, probe_y;  // only for usable(): the scale type of each axis
  probe_x.log = chart.log_x;
  probe_y.log = chart.log_y;
  auto usable_point = [&](double x, double y) { return probe_x.usable(x) && probe_y.usable(y); };

  // Data ranges, from the points that can be drawn; the y range also covers the reference lines.
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double x_lo = kInf, x_hi = -kInf, y_lo = kInf, y_hi = -kInf;
  bool any_point = false;
  for (const Series& s : chart.series) {
    size_t n = std::min(s.x.size(), s.y.size());
    for (size_t i = 0; i < n; ++i) {
      if (!usable_point(s.x[i], s.y[i])) continue;
      any_point = true;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]);
      y_hi = std::max(y_hi, s.y[i]);
    }
  }
  for (const auto& h : chart.hlines) {
    if (!probe_y.usable(h.first)) continue;
    y_lo = std::min(y_lo, h.first);
    y_hi = std::max(y_hi, h.first);
  }

  // Vertical layout first: the y ticks decide the left margin, which decides the x tick density.
  Frame f{};
  f.top = chart.title.empty() ? 12 : 32;
  f.bottom = height - (chart.x_label.empty() ? 26 : 42);
  Axis y = make_axis(y_lo, y_hi, chart.log_y, chart.y_min, chart.y_max,
                     static_cast<int>((f.bottom - f.top) / 50));
  f.left = 10 + (chart.y_label.empty() ? 0 : 18) + widest_label(y) + 8;
  f.right = width - 16;
  // About one x tick per 80 px, fewer if their labels would crowd each other.
  const double x_span = f.right - f.left - 2 * kLineInset;
  Axis x;
  for (int target = std::max(2, static_cast<int>(x_span / 80));; target = std::min(target - 1, target * 3 / 4)) {
    x = make_axis(x_lo, x_hi, chart.log_x, std::nullopt, std::nullopt, target);
    double spacing = x.ticks.size() > 1 ? x_span / static_cast<double>(x.ticks.size() - 1) : x_span;
    if (target <= 2 || widest_label(x) + 10 <= spacing) break;
  }
  x.p_lo = f.left + kLineInset;
  x.p_hi = f.right - kLineInset;
  y.p_lo = f.bottom - kLineInset;
  y.p_hi = f.top + kLineInset;

  // Legend entries: one per labelled series.
  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < chart.series.size(); ++i)
    if (!chart.series[i].label.empty())
      legend.push_back({chart.series[i].label, colour(i), chart.series[i].dashed, false});
  double total_height = height;
  std::string legend_part = legend_svg(legend, width, height, &total_height);

  std::ostringstream o;
  o << svg_open(chart.title, width, total_height);
  // The clip rectangle is the frame grown by a few pixels, so lines along its edge stay fully visible.
  o << "<defs><clipPath id=\"@CLIP@\"><rect x=\"" << num(f.left - 3) << "\" y=\"" << num(f.top - 3)
    << "\" width=\"" << num(f.right - f.left + 6) << "\" height=\"" << num(f.bottom - f.top + 6)
    << "\"/></clipPath></defs>";
  o << y_axis_svg(y, f) << x_axis_svg(x, f);
  o << hlines_svg(chart.hlines, y, f);

  // Series: each maximal run of consecutive drawable points is one <path class="mark">; a run of a single
  // point becomes a small <circle class="mark">, since a one-point path has nothing to stroke.
  o << "<g class=\"data\" clip-path=\"url(#@CLIP@)\" fill=\"none\" stroke-width=\"1.8\" stroke-linejoin=\"round\" "
       "stroke-linecap=\"round\">";
  for (size_t si = 0; si < chart.series.size(); ++si) {
    const Series& s = chart.series[si];
    o << "<g class=\"series\" data-label=\"" << html_escape(s.label) << "\" stroke=\"" << colour(si) << "\""
      << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << ">";
    size_t n = std::min(s.x.size(), s.y.size());
    std::vector<std::pair<double, double>> run;  // pixel points of the current run
    auto flush = [&] {
      if (run.size() == 1) {
        o << "<circle class=\"mark\" cx=\"" << num(run[0].first) << "\" cy=\"" << num(run[0].second)
          << "\" r=\"2.5\" fill=\"" << colour(si) << "\" stroke=\"none\"/>";
      } else if (run.size() > 1) {
        o << "<path class=\"mark\" d=\"";
        for (size_t i = 0; i < run.size(); ++i)
          o << (i == 0 ? "M" : "L") << num(run[i].first) << ' ' << num(run[i].second);
        o << "\"/>";
      }
      run.clear();
    };
    for (size_t i = 0; i < n; ++i) {
      if (usable_point(s.x[i], s.y[i])) {
        run.emplace_back(x.px(s.x[i]), y.px(s.y[i]));
      } else {
        flush();
      }
    }
    flush();
    o << "</g>";
  }
  o << "</g>";

  if (!any_point) o << no_data_svg(f);
  o << frame_svg(f) << title_svg(chart.title, width) << y_label_svg(chart.y_label, f);
  if (!chart.x_label.empty())
    o << "<text class=\"axis-label\" x=\"" << num((f.left + f.right) / 2) << "\" y=\"" << num(height - 8)
      << "\" text-anchor=\"middle\">" << html_escape(chart.x_label) << "</text>";
  o << legend_part << "</svg>";

  std::string out = o.str();
  char id[32];
  std::snprintf(id, sizeof id, "plot-clip-%016llx", static_cast<unsigned long long>(fnv1a(out)));
  replace_all(out, "@CLIP@", id);
  return out;
}

std::string svg(const BarChart& chart) {
  const double width = std::max(chart.width, 120), height = std::max(chart.height, 100);
  const size_t n_cat = chart.categories.size();
  Axis probe;
  probe.log = chart.log_y;

  // y range: every drawable value and reference line; a linear axis always includes the bars' base, 0.
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double lo = kInf, hi = -kInf;
  bool any_bar = false;
  for (const auto& [label, values] : chart.groups) {
    for (size_t c = 0; c < std::min(values.size(), n_cat); ++c) {
      if (!probe.usable(values[c])) continue;
      any_bar = true;
      lo = std::min(lo, values[c]);
      hi = std::max(hi, values[c]);
    }
  }
  for (const auto& h : chart.hlines) {
    if (!probe.usable(h.first)) continue;
    lo = std::min(lo, h.first);
    hi = std::max(hi, h.first);
  }
  if (!chart.log_y && lo <= hi) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
    if (lo == 0 && hi == 0) hi = 1;  // all zero: show [0, 1] rather than a range centred on 0
  }
  // On a log axis bars grow from the bottom of the axis: keep the smallest value above it, so its bar is visible.
  if (chart.log_y && lo <= hi && std::log10(lo) == std::floor(std::log10(lo))) lo /= 10;

  // Category labels: horizontal when they fit their slot, otherwise rotated (and then long ones shortened).
  // (The slot width is estimated before the y axis fixes the left margin; ~60 px is typical.)
  const double slot_guess = (width - 60 - 16) / static_cast<double>(std::max<size_t>(n_cat, 1));
  std::vector<std::string> cat_labels;
  double widest = 0;
  for (const std::string& c : chart.categories) widest = std::max(widest, text_width(c));
  const bool rotate = widest > slot_guess * 0.95;
  for (const std::string& c : chart.categories) {
    std::string l = c;
    if (rotate && text_width(l) > 150) {
      while (!l.empty() && text_width(l) > 144) {  // drop whole UTF-8 code points from the end
        while (!l.empty() && (static_cast<unsigned char>(l.back()) & 0xC0) == 0x80) l.pop_back();
        if (!l.empty()) l.pop_back();
      }
      l += "\xE2\x80\xA6";  // an ellipsis
    }
    cat_labels.push_back(std::move(l));
  }
  double label_height = 18;
  if (rotate) {
    double w = 0;
    for (const std::string& l : cat_labels) w = std::max(w, text_width(l));
    label_height = 12 + w * 0.574;  // sin(35 degrees)
  }

  Frame f{};
  f.top = chart.title.empty() ? 12 : 32;
  f.bottom = std::max(height - 8 - label_height, (f.top + height) / 2);  // labels never take over half the chart
  Axis y = make_axis(lo, hi, chart.log_y, std::nullopt, std::nullopt, static_cast<int>((f.bottom - f.top) / 50));
  f.left = 10 + (chart.y_label.empty() ? 0 : 18) + widest_label(y) + 8;
  f.right = width - 16;
  y.p_lo = f.bottom;
  y.p_hi = f.top;

  std::vector<LegendEntry> legend;
  for (size_t g = 0; g < chart.groups.size(); ++g)
    if (!chart.groups[g].first.empty()) legend.push_back({chart.groups[g].first, colour(g), false, true});
  double total_height = height;
  std::string legend_part = legend_svg(legend, width, height, &total_height);

  std::ostringstream o;
  o << svg_open(chart.title, width, total_height);
  o << y_axis_svg(y, f);
  o << hlines_svg(chart.hlines, y, f);

  // Bars: category c occupies slot c; 80% of the slot is shared equally by the groups' bars.
  const double slot = (f.right - f.left) / static_cast<double>(std::max<size_t>(n_cat, 1));
  const double bar = slot * 0.8 / static_cast<double>(std::max<size_t>(chart.groups.size(), 1));
  const double base = chart.log_y ? f.bottom : y.px(0.0);
  o << "<g class=\"data\">";
  for (size_t g = 0; g < chart.groups.size(); ++g) {
    const auto& [label, values] = chart.groups[g];
    o << "<g class=\"series\" data-label=\"" << html_escape(label) << "\" fill=\"" << colour(g) << "\">";
    for (size_t c = 0; c < std::min(values.size(), n_cat); ++c) {
      double v = values[c];
      if (!probe.usable(v)) continue;
      double top = y.px(v);
      double y0 = std::min(top, base), h = std::abs(base - top);
      if (h < 1) {  // a zero (or nearly zero) value still shows as a hairline bar
        y0 = (v >= 0 || chart.log_y) ? base - 1 : base;
        h = 1;
      }
      double x0 = f.left + slot * (static_cast<double>(c) + 0.1) + bar * static_cast<double>(g);
      o << "<rect class=\"mark\" x=\"" << num(x0) << "\" y=\"" << num(y0) << "\" width=\"" << num(bar) << "\" height=\""
        << num(h) << "\"><title>" << html_escape(label.empty() ? "" : label + " \xC2\xB7 ")
        << html_escape(chart.categories[c]) << ": " << value_text(v) << "</title></rect>";
    }
    o << "</g>";
  }
  o << "</g>";

  // Category labels and tick marks under the slots.
  o << "<g class=\"x-axis\">";
  for (size_t c = 0; c < n_cat; ++c) {
    double cx = f.left + slot * (static_cast<double>(c) + 0.5);
    o << "<line x1=\"" << num(cx) << "\" x2=\"" << num(cx) << "\" y1=\"" << num(f.bottom) << "\" y2=\""
      << num(f.bottom + 4) << "\" stroke=\"#444\"/>";
    if (rotate) {
      double ty = f.bottom + 12;
      o << "<text x=\"" << num(cx) << "\" y=\"" << num(ty) << "\" text-anchor=\"end\" transform=\"rotate(-35 "
        << num(cx) << ' ' << num(ty) << ")\"><title>" << html_escape(chart.categories[c]) << "</title>"
        << html_escape(cat_labels[c]) << "</text>";
    } else {
      o << "<text x=\"" << num(cx) << "\" y=\"" << num(f.bottom + 16) << "\" text-anchor=\"middle\">"
        << html_escape(cat_labels[c]) << "</text>";
    }
  }
  o << "</g>";

  if (!any_bar) o << no_data_svg(f);
  if (!chart.log_y && y.contains(0.0) && y.lo < 0)  // a visible zero line when bars go both ways
    o << "<line class=\"zero\" x1=\"" << num(f.left) << "\" x2=\"" << num(f.right) << "\" y1=\"" << num(base)
      << "\" y2=\"" << num(base) << "\" stroke=\"#444\"/>";
  o << frame_svg(f) << title_svg(chart.title, width) << y_label_svg(chart.y_label, f);
  o << legend_part << "</svg>";
  return o.str();
}

std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  // Cells that read as a number (optionally with a % sign) are right-aligned, via class "num".
  auto numeric = [](const std::string& s) {
    if (s.empty()) return false;
    std::string t = s.back() == '%' ? s.substr(0, s.size() - 1) : s;
    if (t.empty()) return false;
    char* end = nullptr;
    std::strtod(t.c_str(), &end);
    return end == t.c_str() + t.size();
  };
  std::ostringstream o;
  o << "<table>\n";
  if (!header.empty()) {
    o << "<thead><tr>";
    for (const std::string& h : header) o << "<th>" << html_escape(h) << "</th>";
    o << "</tr></thead>\n";
  }
  o << "<tbody>\n";
  for (const auto& row : rows) {
    o << "<tr>";
    size_t cells = std::max(row.size(), header.size());
    for (size_t i = 0; i < cells; ++i) {
      const std::string cell = i < row.size() ? row[i] : std::string();
      o << (numeric(cell) ? "<td class=\"num\">" : "<td>") << html_escape(cell) << "</td>";
    }
    o << "</tr>\n";
  }
  o << "</tbody>\n</table>\n";
  return o.str();
}

std::string html_page(const std::string& title, const std::string& body_html) {
  // The style sheet: a plain report layout that needs no web fonts. `<div class="plots">` lays the charts
  // (or <figure>s holding them) out two per row, wrapping (`class="plots wide"`: one per row); `td.num`
  // right-aligns numbers; `.note` is for secondary text.
  static constexpr const char* kStyle = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
       max-width: 1100px; margin: 24px auto; padding: 0 18px; color: #1f2328; background: #ffffff;
       line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.6em; padding-bottom: 0.25em; border-bottom: 2px solid #d8dee4; }
h2 { font-size: 1.3em; margin: 1.8em 0 0.6em; padding-bottom: 0.2em; border-bottom: 1px solid #e5e8eb; }
h3 { font-size: 1.1em; margin: 1.4em 0 0.5em; }
p, ul, ol { margin: 0.5em 0 0.9em; }
a { color: #0b5cad; }
code, pre { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 0.9em;
            background: #f4f6f8; border-radius: 3px; }
code { padding: 0.1em 0.3em; }
pre { padding: 10px 12px; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.8em 0 1.2em; font-size: 0.92em; }
th, td { border: 1px solid #c9d1d9; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
tbody tr:nth-child(even) { background: #f8f9fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
svg.plot { display: block; box-sizing: border-box; max-width: 100%; height: auto; border: 1px solid #e1e4e8;
           border-radius: 4px; background: #ffffff; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; margin: 0.8em 0 1.2em; }
.plots > svg.plot, .plots > figure { width: calc(50% - 8px); min-width: 300px; }
.plots.wide > svg.plot, .plots.wide > figure { width: 100%; }
figure { margin: 0; }
figure > svg.plot { width: 100%; }
figcaption, .note { color: #57606a; font-size: 0.9em; }
#render-check { margin-top: 2.5em; color: #8c959f; font-size: 0.8em; }
@media print { body { max-width: none; margin: 0; } svg.plot { break-inside: avoid; } }
)css";

  // The render check: a chart counts as drawn when the browser laid out at least one of its marks with a
  // non-empty box. The result goes into #render-check's data attributes and the document title, where a
  // headless browser's DOM dump can read it.
  static constexpr const char* kScript = R"js(
window.addEventListener('load', function () {
  var plots = document.querySelectorAll('svg.plot');
  var drawn = 0, undrawn = [];
  plots.forEach(function (plot) {
    var marks = plot.querySelectorAll('.mark'), ok = false;
    for (var i = 0; i < marks.length && !ok; ++i) {
      try {
        var box = marks[i].getBBox();
        ok = box.width > 0 || box.height > 0 ||
             (typeof marks[i].getTotalLength === 'function' && marks[i].getTotalLength() > 0);
      } catch (e) { /* not rendered: counts as not drawn */ }
    }
    if (ok) { ++drawn; return; }
    var t = plot.querySelector(':scope > title');
    undrawn.push(t && t.textContent ? t.textContent : '(untitled)');
  });
  var check = document.getElementById('render-check');
  if (!check) {
    check = document.createElement('div');
    check.id = 'render-check';
    document.body.appendChild(check);
  }
  check.setAttribute('data-plots', String(plots.length));
  check.setAttribute('data-drawn', String(drawn));
  check.setAttribute('data-undrawn', undrawn.join(','));
  check.textContent = 'Render check: ' + drawn + ' of ' + plots.length + ' plots drawn' +
                      (undrawn.length ? ' (not drawn: ' + undrawn.join(', ') + ')' : '') + '.';
  document.title += ' [rendered ' + drawn + '/' + plots.length + ']';
});
)js";

  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>" << html_escape(title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n"
    << body_html << "\n<script>" << kScript << "</script>\n</body>\n</html>\n";
  return o.str();
}

}  // namespace actlab::lab::plot
