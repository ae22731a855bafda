#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <fstream>

#include "actlab/actlab.h"
#include "actlab/core/npy.h"
#include "actlab/nn/activation.h"
#include "cli/cli_test_util.h"

using namespace actlab;
using actlab::testing::run_cli;
using actlab::testing::TempDir;

namespace {
void write_f32(const std::string& path, const std::vector<float>& v, std::vector<int64_t> shape) {
  write_npy(path, NpyDtype::Float32, shape, v.data());
}
std::vector<float> read_f32(const std::string& path, std::vector<int64_t>* shape = nullptr) {
  NpyArray a = read_npy(path);
  EXPECT_EQ(a.dtype, NpyDtype::Float32);
  if (shape) *shape = a.shape;
  std::vector<float> v(static_cast<size_t>(a.numel()));
  std::memcpy(v.data(), a.data.data(), a.data.size());
  return v;
}
bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }
// Exactly one line of output, naming the problem, and a non-zero exit.
void expect_one_error_line(const actlab::testing::CliResult& r, const std::string& part) {
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.out.find(part), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("actlab: error: "), 0u) << r.out;
}
}  // namespace

TEST(CliEval, ForwardAndBackwardMatchTheLibrary) {
  TempDir dir;
  std::vector<float> x = {-2.0f, -0.5f, 0.0f, 0.5f, 3.0f, 100.0f};
  write_f32(dir / "x.npy", x, {2, 3});
  write_f32(dir / "g.npy", {1, 2, 3, 4, 5, 6}, {2, 3});
  auto r = run_cli("eval --act \"LeakyReLU(negative_slope=0.2)\" --in " + dir / "x.npy" + " --out " + dir / "y.npy" +
                   " --grad-out " + dir / "g.npy" + " --grad-in " + dir / "gx.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<int64_t> shape;
  std::vector<float> y = read_f32(dir / "y.npy", &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(y, (std::vector<float>{-0.4f, -0.1f, 0.0f, 0.5f, 3.0f, 100.0f}));
  std::vector<float> gx = read_f32(dir / "gx.npy");
  EXPECT_EQ(gx, (std::vector<float>{0.2f, 0.4f, 0.6f, 4.0f, 5.0f, 6.0f}));
}

TEST(CliEval, Float64InputAndStructuredOps) {
  TempDir dir;
  std::vector<double> x = {1, 2, 3, 4, 1, 1, 1, 1};
  write_npy(dir / "x.npy", NpyDtype::Float64, {2, 4}, x.data());
  auto r = run_cli("eval --act 'Softmax(dim=1)' --in " + dir / "x.npy" + " --out " + dir / "y.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<float> y = read_f32(dir / "y.npy");
  EXPECT_NEAR(y[4], 0.25f, 1e-7);
  EXPECT_NEAR(y[0] + y[1] + y[2] + y[3], 1.0f, 1e-6);
  r = run_cli("eval --act GLU --in " + dir / "x.npy" + " --out " + dir / "glu.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<int64_t> shape;
  read_f32(dir / "glu.npy", &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 2}));
  r = run_cli("--reference-kernels eval --act Mish --threads 1 --in " + dir / "x.npy" + " --out " + dir / "m.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NEAR(read_f32(dir / "m.npy")[0], 0.86509836f, 1e-6);
}

TEST(CliEval, BadInputIsOneClearLineAndNoOutputFile) {
  TempDir dir;
  write_f32(dir / "x.npy", {1, 2, 3}, {3});
  write_f32(dir / "g2.npy", {1, 2}, {2});
  std::string out = dir / "y.npy";
  std::string base = " --in " + dir / "x.npy" + " --out " + out;
  expect_one_error_line(run_cli("eval --act Relu" + base), "unknown activation 'Relu' (did you mean 'ReLU'?)");
  expect_one_error_line(run_cli("eval --act 'LeakyReLU(slope=1)'" + base), "unexpected keyword argument 'slope'");
  expect_one_error_line(run_cli("eval --act 'Softmax(dim=3)'" + base), "Dimension out of range");
  expect_one_error_line(run_cli("eval --act GLU" + base), "Halving dimension must be even");
  expect_one_error_line(run_cli("eval --act ReLU --in " + dir / "missing.npy" + " --out " + out), "missing.npy");
  expect_one_error_line(run_cli("eval --act ReLU" + base + " --grad-out " + dir / "g2.npy" + " --grad-in " + dir / "gx.npy"),
                        "--grad-out has shape [2] but the output of ReLU has shape [3]");
  expect_one_error_line(run_cli("eval --act ReLU" + base + " --grad-out " + dir / "g2.npy"), "--grad-in");
  expect_one_error_line(run_cli("eval --act ReLU" + base + " --threads 0"), "--threads");
  expect_one_error_line(run_cli("eval --act ReLU --in " + dir / "x.npy"), "--out");
  expect_one_error_line(run_cli("eval --act ReLU" + base + " --bogus"), "--bogus");
  // Truncated and malformed files.
  {
    std::ofstream f(dir / "trunc.npy", std::ios::binary);
    std::string whole(reinterpret_cast<const char*>(encode_npy(NpyDtype::Float32, {100}, std::vector<float>(100).data()).data()), 528);
    f.write(whole.data(), 300);
  }
  expect_one_error_line(run_cli("eval --act ReLU --in " + dir / "trunc.npy" + " --out " + out), "trunc.npy");
  {
    std::ofstream f(dir / "junk.npy", std::ios::binary);
    f << "not a numpy file at all";
  }
  expect_one_error_line(run_cli("eval --act ReLU --in " + dir / "junk.npy" + " --out " + out), "junk.npy");
  {
    std::vector<unsigned char> bytes = encode_npy(NpyDtype::Float32, {2}, std::vector<float>(2).data());
    std::string s(bytes.begin(), bytes.end());
    s.replace(s.find("<f4"), 3, "<i4");
    std::ofstream f(dir / "int.npy", std::ios::binary);
    f << s;
  }
  expect_one_error_line(run_cli("eval --act ReLU --in " + dir / "int.npy" + " --out " + out), "unsupported dtype");
  EXPECT_FALSE(exists(out));
  EXPECT_FALSE(exists(dir / "gx.npy"));
  // Nothing left behind either: no temporaries.
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(CliEval, ExistingOutputSurvivesAFailure) {
  TempDir dir;
  write_f32(dir / "x.npy", {1, 2, 3}, {3});
  write_f32(dir / "y.npy", {7, 7}, {2});
  auto r = run_cli("eval --act 'Softmax(dim=4)' --in " + dir / "x.npy" + " --out " + dir / "y.npy");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(read_f32(dir / "y.npy"), (std::vector<float>{7, 7}));
}

TEST(CliVersion, SaysWhichSimdTargetRuns) {
  auto r = run_cli("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("SIMD target: "), std::string::npos);
  auto ref = run_cli("--reference-kernels --version");
  EXPECT_NE(ref.out.find("SIMD target: scalar reference"), std::string::npos) << ref.out;
}

TEST(CliBench, WritesTheJsonItPromises) {
  TempDir dir;
  auto r = run_cli("bench --threads 1 --sizes 4096 --ops ReLU,GELU --min-time 0.001 --json " + dir / "b.json");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream f(dir / "b.json");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (const char* key : {"\"results\"", "\"op\": \"GELU\"", "\"pass\": \"backward\"", "\"numel\": 4096", "\"gbps\"",
                          "\"ratio_to_copy\"", "\"copy_gbps\"", "\"seconds\""})
    EXPECT_NE(text.find(key), std::string::npos) << key;
  expect_one_error_line(run_cli("bench --ops Nope"), "unknown activation 'Nope'");
}

TEST(CliList, DocsTableIsGeneratedFromTheActivationTable) {
  auto r = run_cli("list --markdown");
  ASSERT_EQ(r.code, 0);
  std::ifstream f(std::string(ACTLAB_GOLDEN_DIR) + "/../../docs/activations.md");
  std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(doc.find(r.out), std::string::npos)
      << "docs/activations.md is out of date: regenerate its table with `actlab list --markdown`";
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2 + 28);
}
