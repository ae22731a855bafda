// The measurements behind `actlab compare`, on constructed inputs with known answers, and the command end to end
// on a small generated data set (report.html rendered in headless Chromium).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "actlab/actlab.h"
#include "cli/cli_test_util.h"
#include "lab/chromium_util.h"
#include "lab/synthetic_data.h"

using namespace actlab;
using actlab::testing::run_cli;
using actlab::testing::TempDir;

namespace {

// Linear(in, units) with zero weights and the given biases, then the activation: every sample's pre-activation
// is exactly the bias.
nn::Sequential constant_layer(const std::vector<double>& biases, const std::string& act, int64_t in = 4) {
  auto lin = std::make_shared<nn::Linear>(in, static_cast<int64_t>(biases.size()));
  {
    NoGradGuard ng;
    lin->parameters()[0].fill_(0.0);
    lin->parameters()[1].copy_(from_data(biases, {static_cast<int64_t>(biases.size())}));
  }
  nn::Sequential m;
  m.push_back(lin);
  m.push_back(nn::make_activation(act));
  return m;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(LabMeasure, SigmoidMaximumDerivativeIsAQuarterAtZero) {
  lab::Range r = lab::measure_range("Sigmoid");
  EXPECT_NEAR(r.dy_max, 0.25, 1e-12);
  EXPECT_NEAR(r.x_at_dy_max, 0.0, 1e-12);
  EXPECT_EQ(r.text, "(0, 1)");
  EXPECT_EQ(r.x.size(), 1601u);
  EXPECT_EQ(r.y.size(), r.x.size());
  EXPECT_EQ(r.dy.size(), r.x.size());
}

TEST(LabMeasure, OutputRangesAsPyTorchUsersWriteThem) {
  EXPECT_EQ(lab::measure_range("ReLU").text, "[0, inf)");
  EXPECT_EQ(lab::measure_range("LeakyReLU").text, "(-inf, inf)");
  EXPECT_EQ(lab::measure_range("Tanh").text, "(-1, 1)");
  EXPECT_EQ(lab::measure_range("ELU").text, "(-1, inf)");
  EXPECT_EQ(lab::measure_range("ReLU6").text, "[0, 6]");
  EXPECT_EQ(lab::measure_range("Hardtanh(min_val=-2.0, max_val=3.0)").text, "[-2, 3]");
  EXPECT_EQ(lab::measure_range("Softplus").text, "(0, inf)");
  EXPECT_EQ(lab::measure_range("SELU").text, "(-1.758, inf)");
  lab::Range gelu = lab::measure_range("GELU");
  EXPECT_TRUE(gelu.min_attained);  // GELU's minimum (about -0.17 near x = -0.75) lies inside the sweep
  EXPECT_NEAR(gelu.y_min, -0.17, 0.005);
  lab::Range relu = lab::measure_range("ReLU");
  EXPECT_EQ(relu.dy_min, 0.0);
  EXPECT_EQ(relu.dy_max, 1.0);
  EXPECT_THROW(lab::measure_range("Softmax(dim=0)"), ValueError);
  EXPECT_THROW(lab::measure_range("GLU"), ValueError);
}

TEST(LabMeasure, AllNegativePreActivationsAreDeadUnderReLUNotLeakyReLU) {
  Tensor images = randn({50, 4});
  for (const char* act : {"ReLU", "LeakyReLU", "PReLU"}) {
    nn::Sequential m = constant_layer({-1, -2, -0.5}, act);
    auto s = lab::measure_sparsity(m, images, 16);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].units, 3);
    EXPECT_EQ(s[0].active_fraction, 0.0) << act;
    EXPECT_EQ(s[0].dead_fraction, std::string(act) == "ReLU" ? 1.0 : 0.0) << act;
  }
  // Two units always on, two always off; a third of ELU's... ELU passes gradient everywhere.
  nn::Sequential half = constant_layer({1, -1, 2, -3}, "ReLU");
  auto s = lab::measure_sparsity(half, images, 7);
  EXPECT_DOUBLE_EQ(s[0].active_fraction, 0.5);
  EXPECT_DOUBLE_EQ(s[0].dead_fraction, 0.5);
  nn::Sequential elu = constant_layer({1, -1, 2, -3}, "ELU");
  EXPECT_DOUBLE_EQ(lab::measure_sparsity(elu, images)[0].dead_fraction, 0.0);
  // Saturation kills gradients too: float32 Sigmoid and Tanh at 100 have a derivative of exactly 0.
  for (const char* act : {"Sigmoid", "Tanh"}) {
    nn::Sequential sat = constant_layer({100, 0.5}, act);
    auto r = lab::measure_sparsity(sat, images);
    EXPECT_DOUBLE_EQ(r[0].dead_fraction, 0.5) << act;
    EXPECT_DOUBLE_EQ(r[0].active_fraction, 1.0) << act;
  }
  // A unit that fires for a single sample is not dead.
  auto lin = std::make_shared<nn::Linear>(1, 1);
  {
    NoGradGuard ng;
    lin->parameters()[0].fill_(1.0);
    lin->parameters()[1].fill_(0.0);
  }
  nn::Sequential one;
  one.push_back(lin);
  one.push_back(nn::make_activation("ReLU"));
  Tensor x = full({10, 1}, -1.0);
  {
    NoGradGuard ng;
    x.narrow(0, 9, 1).fill_(2.0);
  }
  auto o = lab::measure_sparsity(one, x, 3);
  EXPECT_DOUBLE_EQ(o[0].dead_fraction, 0.0);
  EXPECT_DOUBLE_EQ(o[0].active_fraction, 0.1);
  // Softmax is not elementwise: dead is not defined.
  nn::Sequential sm = constant_layer({1, 2}, "Softmax(dim=1)");
  EXPECT_TRUE(std::isnan(lab::measure_sparsity(sm, images)[0].dead_fraction));
}

TEST(LabMeasure, WeightGradNormsMatchTheClosedForm) {
  // One Linear layer, no bias: d CE / d W = (softmax(x W^T) - onehot(y))^T x / N.
  manual_seed(3);
  auto lin = std::make_shared<nn::Linear>(5, 3, /*bias=*/false);
  nn::Sequential m;
  m.push_back(lin);
  Tensor x = randn({7, 5});
  Tensor y = tensor({0, 2, 1, 1, 0, 2, 2}).to(kInt64);
  std::vector<double> norms = lab::weight_grad_norms(m, x, y);
  ASSERT_EQ(norms.size(), 1u);
  Tensor p = nn::functional::softmax(matmul(x, lin->parameters()[0].detach().t()), 1);
  std::vector<double> pv = p.to_vector(), xv = x.to_vector(), yv = y.to_vector();
  double sq = 0;
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 5; ++k) {
      double g = 0;
      for (int n = 0; n < 7; ++n) g += (pv[n * 3 + c] - (yv[n] == c ? 1.0 : 0.0)) * xv[n * 5 + k];
      sq += (g / 7) * (g / 7);
    }
  EXPECT_NEAR(norms[0], std::sqrt(sq), 1e-5 * std::sqrt(sq));
  EXPECT_FALSE(lin->parameters()[0].grad().defined());  // cleared afterwards
  // A 20-layer Sigmoid MLP's first layer gets a vanishing share of the last layer's gradient.
  manual_seed(0);
  lab::TrainConfig c{.model = "mlp", .act = "Sigmoid", .depth = 20, .width = 32};
  auto deep = lab::build_model(c, 1, 4, 4);
  auto g = lab::weight_grad_norms(*deep, randn({16, 1, 4, 4}), randint(0, 10, {16}));
  ASSERT_EQ(g.size(), 21u);
  EXPECT_LT(g.front() / g.back(), 1e-6);
}

TEST(LabGuide, CalibrationErrorAndClassSelection) {
  EXPECT_DOUBLE_EQ(lab::expected_calibration_error({0.9, 0.9}, {1, 0}), 0.4);
  // Bin 9: confidence 0.95, accuracy 1; bin 5: mean confidence 0.55, accuracy 0.5 (weights 1/3 and 2/3).
  EXPECT_NEAR(lab::expected_calibration_error({0.95, 0.55, 0.55}, {1, 1, 0}), (0.05 + 2 * 0.05) / 3, 1e-12);
  EXPECT_DOUBLE_EQ(lab::expected_calibration_error({}, {}), 0.0);
  lab::Split s{arange(12).reshape({6, 1, 2, 1}).to(kFloat32), tensor({3, 1, 3, 0, 1, 2}).to(kInt64)};
  lab::Split two = lab::select_two_classes(s, 1, 3);
  EXPECT_EQ(two.images.sizes(), (Shape{4, 1, 2, 1}));
  EXPECT_EQ(two.labels.to_vector(), (std::vector<double>{1, 0, 1, 0}));
  EXPECT_EQ(two.images.to_vector(), (std::vector<double>{0, 1, 2, 3, 4, 5, 8, 9}));
  EXPECT_THROW(lab::select_two_classes(s, 7, 8), ValueError);
}

TEST(LabGuide, ExperimentsOnGeneratedData) {
  TempDir dir;
  actlab::testing::write_textures(dir.path.string(), 1024, 256);
  lab::Split train = lab::load_split(dir.path.string(), true), test = lab::load_split(dir.path.string(), false);
  lab::GuideBudget b{.steps = 60, .batch_size = 32, .eval_images = 256, .seed = 1};
  lab::BinaryResult bin = lab::binary_experiment(train, test, 0, 1, b);
  ASSERT_EQ(bin.variants.size(), 2u);
  for (const auto& v : bin.variants) {
    EXPECT_EQ(v.losses.size(), 60u);
    EXPECT_GT(v.test_accuracy, 0.9) << v.name;
  }
  // Sigmoid then BCELoss: the log is clamped at -100 and the gradient is lost at a saturated logit.
  EXPECT_EQ(bin.variants[0].saturated_grad, 0.0);
  EXPECT_DOUBLE_EQ(bin.variants[0].saturated_loss, 100.0);
  EXPECT_DOUBLE_EQ(bin.variants[1].saturated_grad, -1.0);
  EXPECT_DOUBLE_EQ(bin.variants[1].saturated_loss, 120.0);
  lab::MulticlassResult mc = lab::multiclass_experiment(train, test, b);
  ASSERT_EQ(mc.variants.size(), 2u);
  EXPECT_LT(mc.variants[0].mean_abs_sum_deviation, 1e-5);  // softmax rows sum to 1
  EXPECT_GT(mc.variants[1].mean_abs_sum_deviation, 1e-3);  // independent sigmoids do not
  EXPECT_GT(mc.variants[0].test_accuracy, 0.5);
  lab::RnnResult rnn = lab::rnn_experiment(train, test, {.steps = 20, .batch_size = 32, .eval_images = 128, .seed = 1}, "", 16);
  ASSERT_EQ(rnn.variants.size(), 2u);
  EXPECT_EQ(rnn.variants[0].nonlinearity, "tanh");
  for (const auto& v : rnn.variants) {
    ASSERT_EQ(v.grad_norm_through_time_init.size(), 28u);
    for (double g : v.grad_norm_through_time_init) EXPECT_TRUE(std::isfinite(g) && g >= 0);
    // The last row is closest to the loss: its gradient is nonzero.
    EXPECT_GT(v.grad_norm_through_time_init.back(), 0);
    if (!v.diverged) EXPECT_EQ(v.grad_norm_through_time_trained.size(), 28u);
  }
  TempDir runs;
  lab::GanResult gan = lab::gan_experiment(train, {.steps = 12, .batch_size = 16, .seed = 1}, runs.path.string());
  ASSERT_EQ(gan.variants.size(), 2u);
  for (const auto& v : gan.variants) {
    EXPECT_EQ(v.d_losses.size(), 12u);
    EXPECT_EQ(v.generator_grad.size(), 12u);
    EXPECT_GT(v.mean_generator_grad, 0);
  }
  EXPECT_TRUE(std::filesystem::exists(runs.path / "gan-d-relu"));
  EXPECT_TRUE(std::filesystem::exists(runs.path / "gan-d-leakyrelu"));
}

TEST(CliCompare, QuickRunOnGeneratedDataWritesEveryPart) {
  TempDir dir;
  actlab::testing::write_textures(dir / "data", 1024, 256);
  std::string out = dir / "report";
  auto r = run_cli("compare --quick --data " + (dir / "data") + " --out " + out +
                   " --acts ReLU,LeakyReLU,Sigmoid,Tanh --binary-classes 0,1 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(read_text(out + "/results.json"));
  ASSERT_EQ(j["activations"].size(), 4u);
  std::set<std::string> specs;
  for (const auto& a : j["activations"]) {
    specs.insert(a["spec"].get<std::string>());
    EXPECT_GT(a["speed"]["forward_gbps"].get<double>(), 0);
    EXPECT_EQ(a["gradient_stability"].size(), 4u);
    for (const auto& g : a["gradient_stability"]) EXPECT_EQ(g["grad_norms_init"].size(), 21u);
    EXPECT_EQ(a["sparsity"]["normal_lr"]["layers"].size(), 3u);
    EXPECT_GT(a["learning"]["steps"].get<int64_t>(), 0);
    EXPECT_FALSE(a["defects"].empty());
  }
  EXPECT_EQ(specs, (std::set<std::string>{"ReLU", "LeakyReLU", "Sigmoid", "Tanh"}));
  EXPECT_NEAR(j["activations"][2]["range"]["derivative_max"].get<double>(), 0.25, 1e-12);
  EXPECT_EQ(j["activations"][0]["range"]["text"], "[0, inf)");
  // Every claim of the seed is judged, each with a verdict.
  std::set<std::string> topics;
  for (const auto& c : j["claims"]) {
    topics.insert(c["topic"].get<std::string>());
    std::string v = c["verdict"];
    EXPECT_TRUE(v == "supported" || v == "not supported" || v == "mixed") << v;
  }
  for (const char* t : {"sparsity", "speed", "gradient stability", "remedy", "defect", "guide: CNN", "guide: RNN",
                        "guide: binary output", "guide: multiclass output", "guide: GAN"})
    EXPECT_TRUE(topics.count(t)) << t;
  EXPECT_EQ(j["guide"]["rnn"]["variants"].size(), 2u);
  EXPECT_EQ(j["guide"]["gan"]["variants"].size(), 2u);
  // The report has one row per activation, and a TensorBoard run for every training.
  std::string md = read_text(out + "/report.md");
  for (const char* a : {"| ReLU |", "| LeakyReLU |", "| Sigmoid |", "| Tanh |"}) EXPECT_NE(md.find(a), std::string::npos) << a;
  std::string runs = j["config"]["runs_dir"];
  int run_dirs = 0;
  for (const auto& e : std::filesystem::directory_iterator(runs)) run_dirs += e.is_directory() ? 1 : 0;
  // per act: 4 gradient, 2 sparsity, 1 learning; LeakyReLU slopes: 3 x 2; guide: 8
  EXPECT_EQ(run_dirs, 4 * (4 + 2 + 1) + 3 * 2 + 2 + 2 + 2 + 2);
  // The HTML report draws every plot in a real browser, offline.
  std::string html = read_text(out + "/report.html");
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  actlab_test::RenderCheck rc = actlab_test::render_in_chromium(out + "/report.html");
  ASSERT_TRUE(rc.error.empty()) << rc.error;
  EXPECT_GE(rc.plots, 20);
  EXPECT_EQ(rc.drawn, rc.plots) << "undrawn: " << rc.undrawn;
}

TEST(CliCompare, BadInputIsOneErrorAndLeavesTheReportAlone) {
  TempDir dir;
  std::string out = dir / "report";
  std::filesystem::create_directories(out);
  { std::ofstream(out + "/report.md") << "an earlier report\n"; }
  actlab::testing::write_textures(dir / "data", 64, 32);
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--acts Softmax", "not elementwise"},
           {"--acts Foo", "unknown activation"},
           {"--acts ReLU,ReLU", "given twice"},
           {"--acts 'ReLU(inplace=True)'", "out-of-place"},
           {"--binary-classes 1,1", "two different classes"},
           {"--threads 0", "--threads"}}) {
    auto r = run_cli("compare --quick --data " + (dir / "data") + " --out " + out + " " + c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.args << ": " << r.out;
    EXPECT_EQ(r.out.find("report:"), std::string::npos) << c.args;
  }
  auto missing = run_cli("compare --quick --data " + (dir / "nothing-here") + " --out " + out);
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("dataset-fashion-mnist"), std::string::npos) << missing.out;
  EXPECT_EQ(read_text(out + "/report.md"), "an earlier report\n");
  EXPECT_FALSE(std::filesystem::exists(out + "/results.json"));
}
