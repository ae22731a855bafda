// Renders plot pages in headless Chromium and checks, through the page's own render check, that every chart
// was actually drawn, and that the check reports a chart that was not. Fails (does not skip) when chromium is
// missing: install it with scripts/setup.sh.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "actlab/lab/plot.h"
#include "chromium_util.h"

namespace {

namespace plot = actlab::lab::plot;
namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A fresh directory for the page, removed at scope exit.
struct PageDir {
  fs::path path;
  PageDir() {
    std::string pattern = (fs::temp_directory_path() / "actlab-plot-render-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path = pattern;
  }
  ~PageDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// Line chart, log y, with a reference line: a decaying loss curve.
plot::Chart loss_chart() {
  plot::Chart c;
  c.title = "Loss & accuracy";  // '&' must survive escaping in both the SVG and the check's output
  c.x_label = "step";
  c.y_label = "loss";
  c.log_y = true;
  c.hlines = {{0.25, "0.25"}};
  plot::Series train{"train", {}, {}};
  plot::Series val{"val", {}, {}, true};
  for (int i = 0; i < 50; ++i) {
    train.x.push_back(i);
    train.y.push_back(2.3 * std::exp(-i / 10.0) + 0.01);
    val.x.push_back(i);
    val.y.push_back(2.4 * std::exp(-i / 12.0) + 0.05);
  }
  c.series = {train, val};
  return c;
}

// Line chart with NaN gaps in its data.
plot::Chart gappy_chart() {
  plot::Chart c;
  c.title = "Gradient norm";
  plot::Series s{"grad", {}, {}};
  for (int i = 0; i < 40; ++i) {
    s.x.push_back(i);
    s.y.push_back(i % 13 == 6 ? kNaN : std::sin(i / 4.0));
  }
  c.series = {s};
  return c;
}

plot::BarChart dead_units_chart() {
  plot::BarChart b;
  b.title = "Dead units";
  b.y_label = "fraction";
  b.categories = {"ReLU", "GELU", "Tanh"};
  b.groups = {{"layer 1", {0.3, 0.0, 0.05}}, {"layer 2", {0.45, 0.02, kNaN}}};
  b.hlines = {{0.25, "limit"}};
  return b;
}

// Writes a report page with the given SVG charts and renders it, timing the render.
actlab_test::RenderCheck render(const std::string& charts_html) {
  PageDir dir;
  EXPECT_FALSE(dir.path.empty());
  const fs::path page = dir.path / "report.html";
  std::ofstream(page) << plot::html_page("Render test", "<h1>Render test</h1>\n<div class=\"plots\">" + charts_html +
                                                          "</div>\n" +
                                                          plot::html_table({"a", "b"}, {{"1", "x < y"}}));
  auto start = std::chrono::steady_clock::now();
  actlab_test::RenderCheck r = actlab_test::render_in_chromium(page.string());
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("chromium render took %.2f s\n", took.count());
  return r;
}

TEST(LabPlotRender, EveryChartIsDrawn) {
  std::string charts = plot::svg(loss_chart()) + plot::svg(gappy_chart()) + plot::svg(dead_units_chart());
  actlab_test::RenderCheck r = render(charts);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.plots, 3);
  EXPECT_EQ(r.drawn, 3);
  EXPECT_EQ(r.undrawn, "");
  EXPECT_EQ(r.title, "Render test [rendered 3/3]");
}

TEST(LabPlotRender, ChartWithoutDataIsReportedUndrawn) {
  plot::Chart empty;
  empty.title = "Empty <chart>, all NaN";
  empty.series = {{"nothing", {0, 1, 2}, {kNaN, kNaN, kNaN}}};
  std::string charts = plot::svg(loss_chart()) + plot::svg(empty) + plot::svg(dead_units_chart());
  actlab_test::RenderCheck r = render(charts);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.plots, 3);
  EXPECT_EQ(r.drawn, r.plots - 1);
  EXPECT_EQ(r.undrawn, "Empty <chart>, all NaN");
  EXPECT_EQ(r.title, "Render test [rendered 2/3]");
}

}  // namespace
