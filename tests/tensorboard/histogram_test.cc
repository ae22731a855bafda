#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "actlab/tensorboard/error.h"
#include "actlab/tensorboard/summary.h"

namespace actlab::tensorboard {
namespace {

nlohmann::json load_golden() {
  std::ifstream f(std::string(ACTLAB_GOLDEN_DIR) + "/tensorboard/histograms.json");
  EXPECT_TRUE(f.good()) << "missing golden file; run tools/histogram_reference.py";
  return nlohmann::json::parse(f);
}

void expect_close(double got, double want, const std::string& what) {
  const double tol = 1e-12 * std::max(1.0, std::fabs(want));
  EXPECT_NEAR(got, want, tol) << what;
}

TEST(TensorboardHistogramTest, DefaultBinsMatchPyTorch) {
  const auto golden = load_golden();
  const auto& bins = default_histogram_bins();
  ASSERT_EQ(bins.size(), golden["num_default_bins"].get<std::size_t>());
  const auto first = golden["default_bins_first"].get<std::vector<double>>();
  const auto last = golden["default_bins_last"].get<std::vector<double>>();
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(bins[i], first[i]);
    EXPECT_EQ(bins[bins.size() - 3 + i], last[i]);
  }
  EXPECT_EQ(bins[bins.size() / 2], 0.0);
  EXPECT_EQ(bins[bins.size() / 2 + 1], 1e-12);
  EXPECT_EQ(bins[bins.size() / 2 - 1], -1e-12);
  for (std::size_t i = 1; i < bins.size(); ++i) ASSERT_LT(bins[i - 1], bins[i]);
}

TEST(TensorboardHistogramTest, MatchesNumpyReference) {
  const auto golden = load_golden();
  ASSERT_GE(golden["cases"].size(), 5u);
  for (const auto& c : golden["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    std::vector<float> values;
    for (double v : c["values"].get<std::vector<double>>()) values.push_back(static_cast<float>(v));
    const Histogram h = make_histogram(std::span<const float>(values));
    EXPECT_EQ(h.bucket_limit, c["bucket_limit"].get<std::vector<double>>());
    EXPECT_EQ(h.bucket, c["bucket"].get<std::vector<double>>());
    EXPECT_EQ(h.min, c["min"].get<double>());
    EXPECT_EQ(h.max, c["max"].get<double>());
    EXPECT_EQ(h.num, c["num"].get<double>());
    // numpy sums pairwise (reproduced) and dots through BLAS (order unknown): near, not equal.
    expect_close(h.sum, c["sum"].get<double>(), "sum");
    expect_close(h.sum_squares, c["sum_squares"].get<double>(), "sum_squares");
  }
}

TEST(TensorboardHistogramTest, TrimsToTheOccupiedRangeWithOneEmptyBucketLeft) {
  const std::vector<float> values = {1.0f, 1.0f, 2.0f};
  const Histogram h = make_histogram(std::span<const float>(values));
  ASSERT_GE(h.bucket.size(), 3u);
  EXPECT_EQ(h.bucket.front(), 0.0);
  EXPECT_GT(h.bucket[1], 0.0);
  EXPECT_GT(h.bucket.back(), 0.0);
  EXPECT_EQ(h.bucket.size(), h.bucket_limit.size());
  double total = 0;
  for (double b : h.bucket) total += b;
  EXPECT_EQ(total, 3.0);
  // The first limit is the left edge of the first occupied bucket: <= 1 < next limit.
  EXPECT_LE(h.bucket_limit[0], 1.0);
  EXPECT_GT(h.bucket_limit[1], 1.0);
  EXPECT_GE(h.bucket_limit.back(), 2.0);
  EXPECT_EQ(h.min, 1.0);
  EXPECT_EQ(h.max, 2.0);
  EXPECT_EQ(h.sum, 4.0);
  EXPECT_EQ(h.sum_squares, 6.0);
}

TEST(TensorboardHistogramTest, CustomBinsFollowNumpyEdges) {
  // np.histogram([0, 1, 1.5, 2, 3], bins=[0, 1, 2, 3]) -> [1, 2, 2]: half-open, last closed.
  const std::vector<double> values = {0.0, 1.0, 1.5, 2.0, 3.0, 3.5, -1.0};
  const std::vector<double> bins = {0.0, 1.0, 2.0, 3.0};
  const Histogram h = make_histogram(std::span<const double>(values), bins);
  // First occupied bucket is 0, so a zero bucket is prepended and limits start at edge 0.
  EXPECT_EQ(h.bucket, (std::vector<double>{0.0, 1.0, 2.0, 2.0}));
  EXPECT_EQ(h.bucket_limit, (std::vector<double>{0.0, 1.0, 2.0, 3.0}));
  EXPECT_EQ(h.num, 7.0);  // out-of-range values still count in num, min, max, sum
  EXPECT_EQ(h.min, -1.0);
  EXPECT_EQ(h.max, 3.5);
}

TEST(TensorboardHistogramTest, Errors) {
  EXPECT_THROW(make_histogram(std::span<const float>()), TensorboardError);
  const std::vector<float> outside = {std::numeric_limits<float>::infinity(), 1e30f};
  EXPECT_THROW(make_histogram(std::span<const float>(outside)), TensorboardError);
  const std::vector<double> values = {1.0};
  const std::vector<double> bad_bins = {0.0, 2.0, 1.0};
  EXPECT_THROW(make_histogram(std::span<const double>(values), bad_bins), TensorboardError);
  try {
    make_histogram(std::span<const float>());
    FAIL();
  } catch (const TensorboardError& e) {
    EXPECT_STREQ(e.what(), "add_histogram: The input has no element.");
  }
}

TEST(TensorboardHistogramTest, NanPropagatesToStatisticsButNotCounts) {
  const std::vector<float> values = {1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f};
  const Histogram h = make_histogram(std::span<const float>(values));
  EXPECT_TRUE(std::isnan(h.min));
  EXPECT_TRUE(std::isnan(h.max));
  EXPECT_TRUE(std::isnan(h.sum));
  EXPECT_EQ(h.num, 3.0);
  double total = 0;
  for (double b : h.bucket) total += b;
  EXPECT_EQ(total, 2.0);
}

}  // namespace
}  // namespace actlab::tensorboard
