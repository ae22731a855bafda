#include "actlab/tensorboard/summary_writer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <ctime>
#include <regex>
#include <thread>
#include <unistd.h>

#include "actlab/tensorboard/png.h"
#include "event_file_test_util.h"

namespace actlab::tensorboard {
namespace {

using actlab_test::tb::Event;
using actlab_test::tb_util::decode_dir;
using actlab_test::tb_util::decode_events;
using actlab_test::tb_util::event_files;
using actlab_test::tb_util::parse_records_checked;
using actlab_test::tb_util::read_file;
using actlab_test::tb_util::ScratchDir;
namespace fs = std::filesystem;

std::size_t record_count(const std::string& path) {
  return parse_records_checked(read_file(path), /*allow_torn_tail=*/false).size();
}

TEST(SummaryWriterTest, ScalarsDecode) {
  ScratchDir dir;
  {
    SummaryWriter w(dir.str());
    EXPECT_EQ(w.get_logdir(), dir.str());
    w.add_scalar("loss", 0.5, 3);
    w.add_scalar("zero", 0.0);
    w.add_scalar("y=2x", 1.0 / 3.0, 1 << 20, 12345.5);
  }
  const auto events = decode_dir(dir.path());
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_EQ(events[1].step(), 3);
  ASSERT_EQ(events[1].summary().value_size(), 1);
  EXPECT_EQ(events[1].summary().value(0).tag(), "loss");
  EXPECT_EQ(events[1].summary().value(0).simple_value(), 0.5f);
  EXPECT_NEAR(events[1].wall_time(), now_seconds(), 60.0);
  EXPECT_GE(events[1].wall_time(), events[0].wall_time());
  // A zero still sets simple_value (a oneof member), so TensorBoard sees a scalar.
  EXPECT_EQ(events[2].summary().value(0).value_case(), actlab_test::tb::Summary::Value::kSimpleValue);
  EXPECT_EQ(events[2].step(), 0);
  EXPECT_EQ(events[3].wall_time(), 12345.5);
  EXPECT_EQ(events[3].step(), 1 << 20);
  EXPECT_EQ(events[3].summary().value(0).simple_value(), static_cast<float>(1.0 / 3.0));
}

TEST(SummaryWriterTest, AddScalarsWritesOneRunPerTag) {
  ScratchDir dir;
  {
    SummaryWriter w(dir.str());
    w.add_scalars("train/loss", {{"relu", 0.25}, {"gelu", 0.125}}, 7);
    w.add_scalars("train/loss", {{"relu", 0.5}}, 8);
  }
  // The main run holds only its file_version event.
  EXPECT_EQ(decode_dir(dir.path()).size(), 1u);
  const auto relu = decode_dir(dir.path() / "train_loss_relu");
  const auto gelu = decode_dir(dir.path() / "train_loss_gelu");
  ASSERT_EQ(relu.size(), 3u);
  ASSERT_EQ(gelu.size(), 2u);
  EXPECT_EQ(relu[1].summary().value(0).tag(), "train/loss");
  EXPECT_EQ(relu[1].summary().value(0).simple_value(), 0.25f);
  EXPECT_EQ(relu[1].step(), 7);
  EXPECT_EQ(relu[2].summary().value(0).simple_value(), 0.5f);
  EXPECT_EQ(relu[2].step(), 8);
  EXPECT_EQ(gelu[1].summary().value(0).tag(), "train/loss");
  EXPECT_EQ(gelu[1].summary().value(0).simple_value(), 0.125f);
  EXPECT_EQ(gelu[1].wall_time(), relu[1].wall_time());  // one walltime for the call
}

TEST(SummaryWriterTest, HistogramDecodes) {
  ScratchDir dir;
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i) values.push_back(std::sin(0.37f * i) * (i % 7));
  {
    SummaryWriter w(dir.str());
    w.add_histogram("relu_output", std::span<const float>(values), 5);
  }
  const auto events = decode_dir(dir.path());
  ASSERT_EQ(events.size(), 2u);
  const auto& v = events[1].summary().value(0);
  EXPECT_EQ(v.tag(), "relu_output");
  EXPECT_EQ(events[1].step(), 5);
  ASSERT_TRUE(v.has_histo());
  const Histogram want = make_histogram(std::span<const float>(values));
  const auto& h = v.histo();
  EXPECT_EQ(h.min(), want.min);
  EXPECT_EQ(h.max(), want.max);
  EXPECT_EQ(h.num(), 1000.0);
  EXPECT_EQ(h.sum(), want.sum);
  EXPECT_EQ(h.sum_squares(), want.sum_squares);
  EXPECT_EQ(std::vector<double>(h.bucket_limit().begin(), h.bucket_limit().end()), want.bucket_limit);
  EXPECT_EQ(std::vector<double>(h.bucket().begin(), h.bucket().end()), want.bucket);
  double total = 0;
  for (double b : h.bucket()) total += b;
  EXPECT_EQ(total, 1000.0);
}

TEST(SummaryWriterTest, ImageDecodesToTheWrittenPixels) {
  ScratchDir dir;
  // 3x2x4 CHW floats.
  std::vector<float> chw(3 * 2 * 4);
  for (std::size_t i = 0; i < chw.size(); ++i) chw[i] = static_cast<float>(i) / 23.0f;
  {
    SummaryWriter w(dir.str());
    w.add_image("picture", chw, {3, 2, 4}, 9);
    w.add_image("gray_hw", std::vector<std::uint8_t>{0, 50, 100, 250}, {2, 2}, 10, "HW");
  }
  const auto events = decode_dir(dir.path());
  ASSERT_EQ(events.size(), 3u);
  const auto& im = events[1].summary().value(0).image();
  EXPECT_EQ(events[1].summary().value(0).tag(), "picture");
  EXPECT_EQ(im.height(), 2);
  EXPECT_EQ(im.width(), 4);
  EXPECT_EQ(im.colorspace(), 3);
  const std::string& png = im.encoded_image_string();
  const Image decoded = decode_png(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(png.data()), png.size()));
  ASSERT_EQ(decoded.channels, 3);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 4; ++x) {
        const float v = chw[(c * 2 + y) * 4 + x];
        const int want = static_cast<int>(std::min(255.0f, v * 255.0f));
        EXPECT_EQ(decoded.pixels[(y * 4 + x) * 3 + c], want);
      }
  const auto& gray = events[2].summary().value(0).image();
  EXPECT_EQ(gray.colorspace(), 3);  // 1-channel images are written as RGB, as in PyTorch
  const std::string& gpng = gray.encoded_image_string();
  const Image g = decode_png(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(gpng.data()), gpng.size()));
  EXPECT_EQ(g.pixels, (std::vector<std::uint8_t>{0, 0, 0, 50, 50, 50, 100, 100, 100, 250, 250, 250}));
}

TEST(SummaryWriterTest, AddImagesTilesTenImagesIntoTwoRowsOfEight) {
  ScratchDir dir;
  const int n = 10, h = 4, w = 6;
  std::vector<float> batch(n * 3 * h * w);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 3 * h * w; ++k) batch[i * 3 * h * w + k] = (i + 1) / 10.0f;
  {
    SummaryWriter writer(dir.str());
    writer.add_images("batch", batch, {n, 3, h, w}, 2);
  }
  const auto events = decode_dir(dir.path());
  ASSERT_EQ(events.size(), 2u);
  const auto& im = events[1].summary().value(0).image();
  EXPECT_EQ(im.height(), 2 * h);
  EXPECT_EQ(im.width(), 8 * w);
  const std::string& png = im.encoded_image_string();
  const Image grid = decode_png(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(png.data()), png.size()));
  ASSERT_EQ(grid.height, 2 * h);
  ASSERT_EQ(grid.width, 8 * w);
  for (int tile = 0; tile < 16; ++tile) {
    const int y = (tile / 8) * h + 1, x = (tile % 8) * w + 2;
    const int want = tile < n ? static_cast<int>((tile + 1) / 10.0f * 255.0f) : 0;
    EXPECT_EQ(grid.pixels[(y * grid.width + x) * 3], want) << "tile " << tile;
  }
}

TEST(SummaryWriterTest, TextDecodes) {
  ScratchDir dir;
  const std::string text = "**ReLU** vs Sigmoid — 激活函数";
  {
    SummaryWriter w(dir.str());
    w.add_text("notes", text, 4);
  }
  const auto events = decode_dir(dir.path());
  ASSERT_EQ(events.size(), 2u);
  const auto& v = events[1].summary().value(0);
  EXPECT_EQ(v.tag(), "notes/text_summary");
  EXPECT_EQ(v.metadata().plugin_data().plugin_name(), "text");
  actlab_test::tb::TextPluginData tpd;
  ASSERT_TRUE(tpd.ParseFromString(v.metadata().plugin_data().content()));
  EXPECT_EQ(tpd.version(), 0);
  EXPECT_EQ(v.tensor().dtype(), 7);  // DT_STRING
  ASSERT_EQ(v.tensor().tensor_shape().dim_size(), 1);
  EXPECT_EQ(v.tensor().tensor_shape().dim(0).size(), 1);
  ASSERT_EQ(v.tensor().string_val_size(), 1);
  EXPECT_EQ(v.tensor().string_val(0), text);
}

TEST(SummaryWriterTest, HParamsDecode) {
  ScratchDir dir;
  {
    SummaryWriter w(dir.str());
    w.add_hparams({{"lr", 0.01}, {"activation", "relu"}, {"batch", 64}, {"bn", true}},
                  {{"hparam/accuracy", 0.875}, {"hparam/loss", 0.25}}, "trial1", 3);
    w.add_hparams({{"lr", 0.1}}, {{"hparam/accuracy", 0.5}});  // run name from the clock
  }
  EXPECT_EQ(decode_dir(dir.path()).size(), 1u);
  const auto events = decode_dir(dir.path() / "trial1");
  ASSERT_EQ(events.size(), 6u);
  auto plugin_data = [&](std::size_t i, const std::string& tag) {
    const auto& v = events[i].summary().value(0);
    EXPECT_EQ(v.tag(), tag);
    EXPECT_EQ(v.metadata().plugin_data().plugin_name(), "hparams");
    EXPECT_EQ(events[i].step(), 3);
    actlab_test::tb::HParamsPluginData pd;
    EXPECT_TRUE(pd.ParseFromString(v.metadata().plugin_data().content()));
    EXPECT_EQ(pd.version(), 0);
    return pd;
  };
  const auto exp = plugin_data(1, "_hparams_/experiment");
  ASSERT_TRUE(exp.has_experiment());
  std::map<std::string, int> types;
  for (const auto& info : exp.experiment().hparam_infos()) types[info.name()] = info.type();
  EXPECT_EQ(types, (std::map<std::string, int>{{"activation", 1}, {"batch", 3}, {"bn", 3}, {"lr", 3}}));
  std::vector<std::string> metric_tags;
  for (const auto& m : exp.experiment().metric_infos()) metric_tags.push_back(m.name().tag());
  EXPECT_EQ(metric_tags, (std::vector<std::string>{"hparam/accuracy", "hparam/loss"}));

  const auto ssi = plugin_data(2, "_hparams_/session_start_info");
  ASSERT_TRUE(ssi.has_session_start_info());
  const auto& hp = ssi.session_start_info().hparams();
  ASSERT_EQ(hp.size(), 4u);
  EXPECT_EQ(hp.at("lr").number_value(), 0.01);
  EXPECT_EQ(hp.at("batch").number_value(), 64.0);
  EXPECT_EQ(hp.at("bn").number_value(), 1.0);  // bool is an int in Python
  EXPECT_EQ(hp.at("activation").string_value(), "relu");

  const auto sei = plugin_data(3, "_hparams_/session_end_info");
  ASSERT_TRUE(sei.has_session_end_info());
  EXPECT_EQ(sei.session_end_info().status(), 1);  // STATUS_SUCCESS

  EXPECT_EQ(events[4].summary().value(0).tag(), "hparam/accuracy");
  EXPECT_EQ(events[4].summary().value(0).simple_value(), 0.875f);
  EXPECT_EQ(events[5].summary().value(0).tag(), "hparam/loss");
  EXPECT_EQ(events[5].step(), 3);

  // The second call went to a run named like Python's str(time.time()).
  int other_runs = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    if (!e.is_directory() || e.path().filename() == "trial1") continue;
    ++other_runs;
    EXPECT_TRUE(std::regex_match(e.path().filename().string(), std::regex(R"(\d{10}\.\d+)")))
        << e.path();
    EXPECT_EQ(decode_dir(e.path()).size(), 5u);
  }
  EXPECT_EQ(other_runs, 1);
}

TEST(SummaryWriterTest, MaxQueueHoldsEventsInMemoryUntilFull) {
  ScratchDir dir;
  SummaryWriter w(dir.str(), /*max_queue=*/3, /*flush_secs=*/1000);
  const std::string path = w.file_path();
  EXPECT_EQ(record_count(path), 1u);  // file_version is written at once
  w.add_scalar("a", 1, 1);
  w.add_scalar("a", 2, 2);
  EXPECT_EQ(record_count(path), 1u);
  w.add_scalar("a", 3, 3);  // the queue reaches max_queue: all three are written
  EXPECT_EQ(record_count(path), 4u);
  w.add_scalar("a", 4, 4);
  EXPECT_EQ(record_count(path), 4u);
  w.flush();
  EXPECT_EQ(record_count(path), 5u);
  w.add_scalar("a", 5, 5);
  w.close();
  EXPECT_EQ(record_count(path), 6u);
}

TEST(SummaryWriterTest, FlushSecsTimerWritesPendingEvents) {
  ScratchDir dir;
  SummaryWriter w(dir.str(), /*max_queue=*/100, /*flush_secs=*/0.1);
  const std::string path = w.file_path();
  w.add_scalar("a", 1, 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (record_count(path) < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(record_count(path), 2u);
}

TEST(SummaryWriterTest, DestructorClosesAndAddAfterCloseOpensANewFile) {
  ScratchDir dir;
  {
    SummaryWriter w(dir.str(), 100, 1000);
    w.add_scalar("a", 1, 1);
    w.close();
    w.add_scalar("a", 2, 2);  // as PyTorch: a new event file
  }
  const auto files = event_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  std::multiset<std::int64_t> steps;
  for (const auto& f : files) {
    const auto events = decode_events(f);
    ASSERT_EQ(events.size(), 2u);
    steps.insert(events[1].step());
  }
  EXPECT_EQ(steps, (std::multiset<std::int64_t>{1, 2}));
}

TEST(SummaryWriterTest, ConcurrentWritersKeepRecordsWhole) {
  ScratchDir dir;
  {
    SummaryWriter w(dir.str(), 7, 0.01);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&w, t] {
        for (int i = 0; i < 200; ++i) w.add_scalar("t" + std::to_string(t), i, i);
      });
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(decode_dir(dir.path()).size(), 1u + 4 * 200);
}

TEST(SummaryWriterTest, DefaultLogDirLooksLikePyTorch) {
  const double t = 1700000000.0;
  const std::string dir = default_log_dir(t, "myhost", "_LR0.1");
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char want[64];
  std::strftime(want, sizeof want, "runs/%b%d_%H-%M-%S_myhost_LR0.1", &tm);  // C locale
  EXPECT_EQ(dir, want);
  EXPECT_TRUE(std::regex_match(dir, std::regex(R"(runs/[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_myhost_LR0\.1)")))
      << dir;

  ScratchDir scratch;
  const fs::path old_cwd = fs::current_path();
  fs::current_path(scratch.path());
  std::string logdir;
  {
    SummaryWriter w;
    logdir = w.get_logdir();
  }
  fs::current_path(old_cwd);
  EXPECT_TRUE(std::regex_match(logdir, std::regex(R"(runs/[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_.+)")))
      << logdir;
  EXPECT_EQ(logdir.substr(logdir.size() - host_name().size()), host_name());
  EXPECT_EQ(event_files(scratch.path() / logdir).size(), 1u);
}

TEST(SummaryWriterTest, ClearErrors) {
  ScratchDir dir;
  const std::string file = dir.str("a_file");
  { std::ofstream(file) << "x"; }
  try {
    SummaryWriter w(file + "/sub");
    FAIL() << "expected an error";
  } catch (const TensorboardError& e) {
    EXPECT_NE(std::string(e.what()).find("SummaryWriter: cannot create log_dir '" + file + "/sub'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(SummaryWriter{file}, TensorboardError);  // a file, not a folder

  SummaryWriter w(dir.str("run"));
  const std::vector<float> img(12, 0.5f);
  EXPECT_THROW(w.add_image("x", img, {3, 2, 2}, 0, "CHWN"), TensorboardError);
  EXPECT_THROW(w.add_image("x", img, {3, 2, 3}), TensorboardError);
  EXPECT_THROW(w.add_images("x", img, {3, 2, 2}), TensorboardError);  // NCHW needs 4 dims
  EXPECT_THROW(w.add_histogram("x", std::span<const float>()), TensorboardError);
  Histogram bad;
  bad.bucket_limit = {1.0};
  EXPECT_THROW(w.add_histogram_raw("x", bad), TensorboardError);
  // Nothing half-written: the file still holds just the file_version event.
  w.close();
  EXPECT_EQ(decode_dir(dir.path() / "run").size(), 1u);
}

TEST(SummaryWriterTest, FilenameSuffixAppliesToSubWriters) {
  ScratchDir dir;
  {
    SummaryWriter w(dir.str(), 10, 120, ".actlab");
    w.add_scalars("m", {{"a", 1.0}});
    const std::string name = fs::path(w.file_path()).filename().string();
    EXPECT_EQ(name.substr(name.size() - 7), ".actlab");
  }
  const auto sub = event_files(dir.path() / "m_a");
  ASSERT_EQ(sub.size(), 1u);
  const std::string name = sub[0].filename().string();
  EXPECT_EQ(name.substr(name.size() - 7), ".actlab");
}

}  // namespace
}  // namespace actlab::tensorboard
