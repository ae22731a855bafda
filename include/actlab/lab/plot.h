// Small, dependency-free SVG charts and self-contained HTML report pages, for the lab's reports.
//
// Everything here uses only the C++ standard library. The output is deterministic (same input, same bytes),
// has no external resources (no fonts, scripts or styles fetched from anywhere), and is meant to be opened
// offline in any browser.
//
// Conventions every chart follows, which the render check in html_page() relies on:
//   * the root element is <svg class="plot" ... role="img"> with a <title> holding the chart's title;
//   * every data mark (each line segment <path>, each isolated point <circle>, each bar <rect>) has
//     class="mark"; axes, grid, reference lines, legend and text never do;
//   * NaN and infinite values (and non-positive values on a log axis) are skipped: a line is broken there into
//     separate segments rather than drawn through the gap;
//   * a chart without any drawable value still renders its frame, axes and a "no data" note, but no marks.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actlab::lab::plot {

// One line of a line chart: points (x[i], y[i]) for i < min(x.size(), y.size()), joined in order.
struct Series {
  std::string label;  // shown in the legend; a series with an empty label has no legend entry
  std::vector<double> x;
  std::vector<double> y;
  bool dashed = false;
};

// A line chart.
struct Chart {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;  // log10 axes; non-positive values are skipped on a log axis
  std::vector<Series> series;
  // Horizontal reference lines with a label, e.g. {0.25, "0.25"}. Autoscaled y ranges include them.
  std::vector<std::pair<double, std::string>> hlines;
  // A fixed y range (otherwise from the data, rounded out to nice tick values). Marks outside are clipped.
  std::optional<double> y_min, y_max;
  int width = 560, height = 340;  // size of the plotting canvas; a legend below it adds to the height
};

// Grouped bars: one group of bars per category, one bar per entry of `groups` in each.
struct BarChart {
  std::string title, y_label;
  std::vector<std::string> categories;                              // e.g. activation names on the x axis
  std::vector<std::pair<std::string, std::vector<double>>> groups;  // legend label -> one value per category
  bool log_y = false;  // bars then grow from the bottom of the axis; non-positive values get no bar
  std::vector<std::pair<double, std::string>> hlines;
  int width = 560, height = 340;
};

// The chart as an <svg class="plot"> element (no XML prolog: ready to embed in HTML).
std::string svg(const Chart& chart);
std::string svg(const BarChart& chart);

// Escapes & < > " ' for use in HTML/SVG text and attribute values.
std::string html_escape(std::string_view text);

// A complete, self-contained HTML5 document (inline CSS, no network access, no external resources) with
// `body_html` as its body, followed by a render-check script. On window load the script counts every
// svg.plot that has at least one .mark with a non-empty bounding box as drawn, records the result in
// <div id="render-check" data-plots="N" data-drawn="M" data-undrawn="titles of undrawn plots, comma-separated">
// (created at the end of the body unless the body already has one) and appends " [rendered M/N]" to the
// document title. `title` is escaped; `body_html` is inserted as is.
//
// The style sheet knows a few classes: <div class="plots"> lays out the charts in it (or the <figure>s
// holding them) two per row, wrapping ("plots wide": one per row); td.num (html_table sets it on numeric
// cells) is right-aligned; class="note" is for secondary text.
std::string html_page(const std::string& title, const std::string& body_html);

// An HTML <table>; header and cells are escaped. Rows shorter than the header are padded with empty cells.
std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace actlab::lab::plot
