// Unit tests of the SVG charts and HTML pages (actlab/lab/plot.h), on the generated markup. How a browser
// actually draws the charts is checked in plot_render_test.cc.
#include "actlab/lab/plot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

using actlab::lab::plot::BarChart;
using actlab::lab::plot::Chart;
using actlab::lab::plot::Series;
namespace plot = actlab::lab::plot;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Non-overlapping occurrences of `needle` in `hay`.
size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + needle.size())) ++n;
  return n;
}

// The contents of the first <g class="NAME"> ... </g> (these groups never nest other groups).
std::string group(const std::string& svg, const std::string& name) {
  std::string open = "<g class=\"" + name + "\"";
  size_t start = svg.find(open);
  if (start == std::string::npos) return "";
  size_t end = svg.find("</g>", start);
  return svg.substr(start, end - start);
}

// The texts of the <text> elements in `s`, in order.
std::vector<std::string> texts(const std::string& s) {
  static const std::regex text_re("<text[^>]*>([^<]*)</text>");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), text_re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

std::vector<std::string> y_tick_labels(const std::string& svg) { return texts(group(svg, "y-axis")); }
std::vector<std::string> x_tick_labels(const std::string& svg) { return texts(group(svg, "x-axis")); }

// Parses a whole label as a number; fails the test if it is not one.
double parse(const std::string& label) {
  char* end = nullptr;
  double v = std::strtod(label.c_str(), &end);
  EXPECT_TRUE(!label.empty() && end == label.c_str() + label.size()) << "tick label is not a number: " << label;
  return v;
}

// The d attributes of the <path class="mark"> elements.
std::vector<std::string> mark_paths(const std::string& svg) {
  static const std::regex path_re("<path class=\"mark\" d=\"([^\"]*)\"");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), path_re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

// Checks that labels are evenly spaced numbers with a 1/2/5 x 10^k step, covering [lo, hi], short and
// readable; returns the step.
double expect_nice_linear_ticks(const std::vector<std::string>& labels, double lo, double hi) {
  EXPECT_GE(labels.size(), 3u);
  EXPECT_LE(labels.size(), 12u);
  if (labels.size() < 2) return 0;
  std::vector<double> v;
  for (const std::string& l : labels) {
    EXPECT_LE(l.size(), 7u) << "unreadable tick label " << l;
    v.push_back(parse(l));
  }
  double step = v[1] - v[0];
  EXPECT_GT(step, 0);
  for (size_t i = 1; i < v.size(); ++i) EXPECT_NEAR(v[i] - v[i - 1], step, std::abs(step) * 1e-6) << labels[i];
  double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
  EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 || std::abs(mantissa - 5) < 1e-6)
      << "step " << step << " is not 1, 2 or 5 times a power of ten";
  EXPECT_LE(v.front(), lo);
  EXPECT_GE(v.back(), hi);
  return step;
}

Chart line_chart(std::vector<double> x, std::vector<double> y) {
  Chart c;
  c.title = "t";
  c.series.push_back({"s", std::move(x), std::move(y)});
  return c;
}

// Numeric attribute values of the output must never be NaN or infinite.
void expect_finite_numbers(const std::string& svg) {
  static const std::regex bad("=\"[^\"]*(nan|inf)[^\"]*\"", std::regex::icase);
  EXPECT_FALSE(std::regex_search(svg, bad)) << svg;
}

TEST(LabPlot, SvgRootHasClassTitleAndRole) {
  Chart c = line_chart({0, 1, 2}, {0, 1, 4});
  c.title = "Squares <&>";
  c.x_label = "x";
  c.y_label = "x^2";
  std::string s = plot::svg(c);
  EXPECT_EQ(s.rfind("<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ", 0), 0u) << s;
  EXPECT_NE(s.find("role=\"img\""), std::string::npos);
  EXPECT_NE(s.find("<title>Squares &lt;&amp;&gt;</title>"), std::string::npos);
  EXPECT_EQ(s.find("Squares <"), std::string::npos) << "unescaped text";
  EXPECT_NE(s.find(">x^2</text>"), std::string::npos) << "y label";
  EXPECT_NE(s.find("<g class=\"legend\""), std::string::npos);
  EXPECT_EQ(s.substr(s.size() - 6), "</svg>");
}

TEST(LabPlot, LinearTicksAreNiceAndCoverTheData) {
  Chart c = line_chart({-3.2, 0, 7.9}, {0.013, 0.5, 0.87});
  std::string s = plot::svg(c);
  expect_nice_linear_ticks(y_tick_labels(s), 0.013, 0.87);
  expect_nice_linear_ticks(x_tick_labels(s), -3.2, 7.9);
  // Steps that are not exact in binary still print as short decimals.
  c = line_chart({0, 1}, {0.1, 0.3});
  s = plot::svg(c);
  double step = expect_nice_linear_ticks(y_tick_labels(s), 0.1, 0.3);
  EXPECT_NEAR(step, 0.05, 1e-12);
  for (const std::string& l : y_tick_labels(s)) EXPECT_EQ(l.find("0000"), std::string::npos) << l;
}

TEST(LabPlot, TinyAndHugeTickLabelsUseScientificNotation) {
  Chart tiny = line_chart({0, 1}, {2e-7, 3.1e-6});
  std::vector<std::string> labels = y_tick_labels(plot::svg(tiny));
  expect_nice_linear_ticks(labels, 2e-7, 3.1e-6);
  EXPECT_TRUE(std::find(labels.begin(), labels.end(), "1e-6") != labels.end()) << ::testing::PrintToString(labels);
  for (const std::string& l : labels) EXPECT_EQ(l.find("e-0"), std::string::npos) << "exponent not compact: " << l;

  Chart huge = line_chart({0, 1}, {0, 3.5e9});
  labels = y_tick_labels(plot::svg(huge));
  expect_nice_linear_ticks(labels, 0, 3.5e9);
  EXPECT_TRUE(std::find(labels.begin(), labels.end(), "1e9") != labels.end()) << ::testing::PrintToString(labels);
}

TEST(LabPlot, LogAxisHasDecadeTicksAndSkipsNonPositiveValues) {
  Chart c = line_chart({0, 1, 2, 3, 4, 5}, {-1, 0, 0.01, 0.1, 1, 10});
  c.log_y = true;
  std::string s = plot::svg(c);
  std::vector<std::string> labels = y_tick_labels(s);
  EXPECT_EQ(labels, (std::vector<std::string>{"0.01", "0.1", "1", "10"}));
  // The two non-positive points are left out: one segment of the remaining four points.
  std::vector<std::string> paths = mark_paths(s);
  ASSERT_EQ(paths.size(), 1u) << s;
  EXPECT_EQ(count(paths[0], "M"), 1u);
  EXPECT_EQ(count(paths[0], "L"), 3u);
  // The x range comes from the drawn points only (2..5), so the x axis does not start at 0.
  std::vector<std::string> xl = x_tick_labels(s);
  ASSERT_FALSE(xl.empty());
  EXPECT_EQ(xl.front(), "2");
  expect_finite_numbers(s);

  // Many decades: exponent labels, thinned to a readable number of ticks.
  c = line_chart({1, 2, 3}, {1e-30, 1e-10, 1e5});
  c.log_y = true;
  labels = y_tick_labels(plot::svg(c));
  EXPECT_GE(labels.size(), 3u);
  EXPECT_LE(labels.size(), 10u);
  for (const std::string& l : labels) EXPECT_EQ(l.rfind("1e", 0), 0u) << l;

  // A log x axis skips non-positive x the same way.
  c = line_chart({0, 1e-3, 1, 1e3}, {1, 2, 3, 4});
  c.log_x = true;
  s = plot::svg(c);
  paths = mark_paths(s);
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(count(paths[0], "L"), 2u);
  EXPECT_EQ(x_tick_labels(s).front(), "0.001");
}

TEST(LabPlot, NonFiniteValuesSplitASeriesIntoSegments) {
  std::string s = plot::svg(line_chart({0, 1, 2, 3, 4}, {0, 1, kNaN, 2, 3}));
  std::vector<std::string> paths = mark_paths(s);
  ASSERT_EQ(paths.size(), 2u) << s;
  EXPECT_EQ(count(s, "class=\"mark\""), 2u);
  EXPECT_EQ(count(paths[0], "L"), 1u);
  EXPECT_EQ(count(paths[1], "L"), 1u);

  // An infinite x breaks the line too; a point left alone between gaps becomes a dot.
  s = plot::svg(line_chart({0, 1, kInf, 3, 4, 5, 6}, {0, 1, 5, 2, kNaN, 7, 8}));
  EXPECT_EQ(mark_paths(s).size(), 2u);
  EXPECT_EQ(count(s, "<circle class=\"mark\""), 1u);
  EXPECT_EQ(count(s, "class=\"mark\""), 3u);
  expect_finite_numbers(s);
}

TEST(LabPlot, ChartWithoutFiniteDataHasAxesButNoMarks) {
  std::string s = plot::svg(line_chart({0, 1, 2}, {kNaN, kInf, -kInf}));
  EXPECT_EQ(count(s, "class=\"mark\""), 0u) << s;
  EXPECT_NE(s.find(">no data</text>"), std::string::npos);
  EXPECT_FALSE(y_tick_labels(s).empty());
  EXPECT_FALSE(x_tick_labels(s).empty());
  EXPECT_NE(s.find("class=\"frame\""), std::string::npos);
  expect_finite_numbers(s);

  Chart empty;  // no series at all, log axes
  empty.log_x = empty.log_y = true;
  s = plot::svg(empty);
  EXPECT_EQ(count(s, "class=\"mark\""), 0u);
  EXPECT_NE(s.find(">no data</text>"), std::string::npos);
  expect_finite_numbers(s);

  // All values non-positive on a log axis: nothing drawable either.
  Chart nonpositive = line_chart({0, 1}, {0, -1});
  nonpositive.log_y = true;
  EXPECT_EQ(count(plot::svg(nonpositive), "class=\"mark\""), 0u);
  // But data does not say "no data".
  EXPECT_EQ(plot::svg(line_chart({0, 1}, {1, 2})).find("no data"), std::string::npos);
}

TEST(LabPlot, DegenerateRangesStayFinite) {
  for (const Chart& c : {line_chart({0, 1, 2}, {3, 3, 3}), line_chart({5}, {7}), line_chart({0, 0}, {0, 0}),
                         line_chart({1e-310, 2e-310}, {1e308, -1e308}), line_chart({1, 2}, {1e-300, 1e-300})}) {
    std::string s = plot::svg(c);
    expect_finite_numbers(s);
    EXPECT_GE(count(s, "class=\"mark\""), 1u);
    EXPECT_GE(y_tick_labels(s).size(), 2u) << s;
  }
  Chart tiny = line_chart({0, 1, 2}, {0, 1, 2});  // sizes below the minimum are raised to it
  tiny.width = tiny.height = 0;
  std::string t = plot::svg(tiny);
  expect_finite_numbers(t);
  EXPECT_GE(x_tick_labels(t).size(), 2u);
  EXPECT_EQ(count(t, "class=\"mark\""), 1u);

  Chart flat = line_chart({0, 1, 2}, {3, 3, 3});
  flat.log_y = true;
  std::string s = plot::svg(flat);
  expect_finite_numbers(s);
  EXPECT_EQ(count(s, "class=\"mark\""), 1u);
}

TEST(LabPlot, FixedYRangeAndReferenceLines) {
  Chart c = line_chart({0, 1, 2}, {-5, 0.5, 5});
  c.y_min = 0;
  c.y_max = 1;
  c.hlines = {{0.25, "quarter"}, {3.0, "outside"}};
  std::string s = plot::svg(c);
  std::vector<std::string> labels = y_tick_labels(s);
  ASSERT_FALSE(labels.empty());
  EXPECT_EQ(labels.front(), "0");
  EXPECT_EQ(labels.back(), "1");
  EXPECT_NE(s.find(">quarter</text>"), std::string::npos);
  EXPECT_EQ(s.find("outside"), std::string::npos) << "a reference line outside the fixed range is not drawn";
  EXPECT_NE(s.find("clip-path=\"url(#plot-clip-"), std::string::npos) << "data outside the range is clipped";
  EXPECT_EQ(count(s, "class=\"mark\""), 1u);

  // An autoscaled range includes the reference lines.
  Chart auto_range = line_chart({0, 1}, {0, 0.1});
  auto_range.hlines = {{0.25, "0.25"}};
  labels = y_tick_labels(plot::svg(auto_range));
  EXPECT_GE(parse(labels.back()), 0.25);
}

TEST(LabPlot, PaletteCyclesAndDashedSeries) {
  Chart c;
  for (int i = 0; i < 13; ++i) c.series.push_back({"s" + std::to_string(i), {0, 1}, {0.0 + i, 1.0 + i}, i == 1});
  std::string s = plot::svg(c);
  static const std::regex series_re("<g class=\"series\" data-label=\"[^\"]*\" stroke=\"(#[0-9a-f]{6})\"([^>]*)>");
  std::vector<std::string> colours, rest;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), series_re); it != std::sregex_iterator(); ++it) {
    colours.push_back((*it)[1].str());
    rest.push_back((*it)[2].str());
  }
  ASSERT_EQ(colours.size(), 13u);
  EXPECT_GE(std::set<std::string>(colours.begin(), colours.begin() + 10).size(), 10u);
  EXPECT_EQ(colours[12], colours[0]) << "the palette cycles after 12";
  EXPECT_NE(rest[1].find("stroke-dasharray"), std::string::npos);
  EXPECT_EQ(rest[0].find("stroke-dasharray"), std::string::npos);
  EXPECT_EQ(count(group(s, "legend") + "</g>", "<line"), 13u);
}

TEST(LabPlot, OutputIsDeterministicAndClipIdsDiffer) {
  Chart a = line_chart({0, 1, 2}, {0, 1, 4});
  Chart b = line_chart({0, 1, 2}, {0, 1, 8});
  EXPECT_EQ(plot::svg(a), plot::svg(a));
  static const std::regex id_re("clipPath id=\"([^\"]+)\"");
  std::smatch ma, mb;
  std::string sa = plot::svg(a), sb = plot::svg(b);
  ASSERT_TRUE(std::regex_search(sa, ma, id_re));
  ASSERT_TRUE(std::regex_search(sb, mb, id_re));
  EXPECT_NE(ma[1].str(), mb[1].str());
  // Coordinates are compact: at most two decimals.
  EXPECT_FALSE(std::regex_search(sa, std::regex("[0-9]\\.[0-9]{3}")));
}

TEST(LabPlot, BarChartHasOneMarkPerFiniteValue) {
  BarChart b;
  b.title = "Dead units";
  b.y_label = "fraction";
  b.categories = {"ReLU", "GELU", "Tanh"};
  b.groups = {{"seed 0", {0.5, kNaN, 0.25}}, {"seed 1", {0.0, kInf, -0.1}}};
  b.hlines = {{0.4, "limit"}};
  std::string s = plot::svg(b);
  EXPECT_EQ(count(s, "<rect class=\"mark\""), 4u) << s;
  EXPECT_EQ(count(s, "class=\"mark\""), 4u);
  EXPECT_EQ(x_tick_labels(s), (std::vector<std::string>{"ReLU", "GELU", "Tanh"}));
  EXPECT_NE(s.find(">limit</text>"), std::string::npos);
  expect_nice_linear_ticks(y_tick_labels(s), -0.1, 0.5);
  expect_finite_numbers(s);
  // A zero value still gets a visible (hairline) bar.
  EXPECT_EQ(count(s, "height=\"0\""), 0u);

  // Log scale: non-positive values get no bar.
  b.log_y = true;
  s = plot::svg(b);
  EXPECT_EQ(count(s, "class=\"mark\""), 2u);
  for (const std::string& l : y_tick_labels(s)) EXPECT_GT(parse(l), 0) << l;

  // Nothing finite: no marks, a note.
  BarChart none;
  none.categories = {"a"};
  none.groups = {{"g", {kNaN}}};
  s = plot::svg(none);
  EXPECT_EQ(count(s, "class=\"mark\""), 0u);
  EXPECT_NE(s.find("no data"), std::string::npos);
  EXPECT_EQ(count(plot::svg(BarChart{}), "class=\"mark\""), 0u);
}

TEST(LabPlot, BarChartRotatesLongCategoryLabels) {
  BarChart b;
  for (int i = 0; i < 10; ++i) b.categories.push_back("a rather long activation name " + std::to_string(i));
  b.groups = {{"", std::vector<double>(10, 1.0)}};
  std::string s = plot::svg(b);
  EXPECT_NE(group(s, "x-axis").find("rotate(-35"), std::string::npos);
  EXPECT_EQ(count(s, "class=\"mark\""), 10u);
  EXPECT_EQ(s.find("class=\"legend\""), std::string::npos) << "an unlabelled group has no legend entry";
}

TEST(LabPlot, HtmlEscapeEscapesMarkupCharacters) {
  EXPECT_EQ(plot::html_escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(plot::html_escape("plain text, ünïcode"), "plain text, ünïcode");
  EXPECT_EQ(plot::html_escape(""), "");
}

TEST(LabPlot, HtmlTableEscapesCellsAndMarksNumbers) {
  std::string t = plot::html_table({"name", "loss"}, {{"<ReLU>", "0.25"}, {"GELU"}});
  EXPECT_NE(t.find("<th>name</th><th>loss</th>"), std::string::npos) << t;
  EXPECT_NE(t.find("<td>&lt;ReLU&gt;</td><td class=\"num\">0.25</td>"), std::string::npos) << t;
  EXPECT_NE(t.find("<td>GELU</td><td></td>"), std::string::npos) << "short rows are padded";
  EXPECT_EQ(count(t, "<tr>"), 3u);
}

TEST(LabPlot, HtmlPageIsSelfContained) {
  Chart c = line_chart({0, 1}, {0, 1});
  BarChart b;
  b.categories = {"a"};
  b.groups = {{"g", {1}}};
  std::string body = "<h1>Report</h1><div class=\"plots\">" + plot::svg(c) + plot::svg(b) + "</div>";
  std::string page = plot::html_page("A & B", body);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<title>A &amp; B</title>"), std::string::npos);
  EXPECT_NE(page.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(page.find(body), std::string::npos);
  EXPECT_NE(page.find("<style>"), std::string::npos);
  EXPECT_NE(page.find("render-check"), std::string::npos);
  EXPECT_NE(page.find("data-undrawn"), std::string::npos);
  EXPECT_NE(page.find("[rendered "), std::string::npos);
  // No network references: the only URL allowed is the SVG namespace name (which is never fetched).
  std::string rest = page;
  const std::string ns = "http://www.w3.org/2000/svg";
  EXPECT_EQ(count(rest, ns), 2u);
  for (size_t pos; (pos = rest.find(ns)) != std::string::npos;) rest.erase(pos, ns.size());
  EXPECT_EQ(rest.find("http://"), std::string::npos);
  EXPECT_EQ(rest.find("https://"), std::string::npos);
  // Nor anything else that loads a resource.
  EXPECT_FALSE(std::regex_search(rest, std::regex("(src|href)\\s*=")));
  EXPECT_EQ(rest.find("@import"), std::string::npos);
  EXPECT_EQ(rest.find("url(//"), std::string::npos);
}

}  // namespace
