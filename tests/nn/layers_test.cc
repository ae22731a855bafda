// Compute layers (Conv2d, BatchNorm1d/2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Linear, Flatten, Dropout):
// golden forward and backward against PyTorch 1.13.1 (tests/golden/layers, made by tools/gen_golden_layers.py)
// in float32 and float64, float64 finite differences, error messages, printing, initialization.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "actlab/actlab.h"
#include "actlab/core/npy.h"
#include "actlab/nn/functional.h"
#include "actlab/nn/functional_layers.h"
#include "actlab/kernels/control.h"
#include "actlab/nn/layers.h"
#include "test_util.h"

using namespace actlab;
using json = nlohmann::json;
namespace F = actlab::nn::functional;

namespace {

std::string golden_dir() { return std::string(ACTLAB_GOLDEN_DIR) + "/layers/"; }

const json& manifest() {
  static json m = [] {
    std::ifstream f(golden_dir() + "manifest.json");
    if (!f) throw std::runtime_error("cannot open " + golden_dir() + "manifest.json");
    return json::parse(f);
  }();
  return m;
}

std::vector<json> cases_of(const std::string& op) {
  std::vector<json> out;
  for (const auto& c : manifest()["cases"])
    if (c["op"] == op) out.push_back(c);
  return out;
}

bool has(const json& c, const std::string& key) { return c["files"].contains(key); }

Tensor load(const json& c, const std::string& key) {
  if (!has(c, key)) return Tensor();
  NpyArray a = read_npy(golden_dir() + c["files"][key].get<std::string>());
  Dtype d = a.dtype == NpyDtype::Float32 ? kFloat32 : kFloat64;
  Tensor t = empty(Shape(a.shape.begin(), a.shape.end()), {d});
  if (!a.data.empty()) std::memcpy(t.raw_data(), a.data.data(), a.data.size());
  return t;
}

// A fresh leaf of dtype d with t's values (undefined stays undefined).
Tensor leaf(const Tensor& t, Dtype d) {
  if (!t.defined()) return Tensor();
  Tensor r = t.to(d).detach().clone();
  r.requires_grad_(true);
  return r;
}

// |ours - ref| <= atol + rtol * |ref| elementwise; NaN must match NaN.
void expect_close(const Tensor& ours, const Tensor& ref, double atol, double rtol, const std::string& what) {
  ASSERT_TRUE(ours.defined()) << what << ": no tensor";
  ASSERT_TRUE(ref.defined()) << what << ": no reference";
  ASSERT_EQ(ours.sizes(), ref.sizes()) << what;
  std::vector<double> o = ours.to_vector(), r = ref.to_vector();
  int failures = 0;
  for (size_t i = 0; i < o.size() && failures < 5; ++i) {
    if (std::isnan(r[i]) && std::isnan(o[i])) continue;
    if (o[i] == r[i]) continue;
    if (!(std::fabs(o[i] - r[i]) <= atol + rtol * std::fabs(r[i]))) {
      ++failures;
      ADD_FAILURE() << what << " element " << i << ": ours " << o[i] << ", PyTorch " << r[i];
    }
  }
}

// Runs the test for both dtypes: float32 against the float64 reference with a float32 tolerance, float64
// tightly.
struct Tol {
  double atol, rtol;
};
Tol tol_for(Dtype d) { return d == kFloat32 ? Tol{2e-5, 2e-5} : Tol{1e-10, 1e-10}; }

template <class F>
void expect_error(F&& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "expected error: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

nn::Size2 size2(const json& v) { return nn::Size2(v[0].get<int64_t>(), v[1].get<int64_t>()); }

// ---- golden: convolution -------------------------------------------------------------------------------------
TEST(LayersGolden, Conv2dFunctional) {
  auto cs = cases_of("conv2d");
  ASSERT_GE(cs.size(), 8u);
  for (const auto& c : cs) {
    for (Dtype d : {kFloat32, kFloat64}) {
      SCOPED_TRACE(c["name"].get<std::string>() + (d == kFloat32 ? " float32" : " float64"));
      const json& a = c["args"];
      Tensor x = leaf(load(c, "x"), d), w = leaf(load(c, "w"), d), b = leaf(load(c, "b"), d);
      nn::Conv2dPadding pad = a["padding"].is_string() ? nn::Conv2dPadding(a["padding"].get<std::string>())
                                                       : nn::Conv2dPadding(size2(a["padding"]));
      Tensor y = F::conv2d(x, w, b, size2(a["stride"]), pad, size2(a["dilation"]), a["groups"].get<int64_t>());
      if (x.dim() == 4) EXPECT_EQ(y.grad_fn()->name(), "ConvolutionBackward0");
      y.backward(load(c, "gy").to(d));
      Tol t = tol_for(d);
      expect_close(y, load(c, "y"), t.atol, t.rtol, "y");
      expect_close(x.grad(), load(c, "gx"), t.atol, t.rtol, "gx");
      expect_close(w.grad(), load(c, "gw"), t.atol * 4, t.rtol, "gw");
      if (b.defined()) expect_close(b.grad(), load(c, "gb"), t.atol * 4, t.rtol, "gb");
    }
  }
}

TEST(LayersGolden, Conv2dPaddingModes) {
  auto cs = cases_of("conv2d_module");
  ASSERT_EQ(cs.size(), 3u);
  for (const auto& c : cs) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const json& a = c["args"];
    nn::Conv2d conv(2, 3, 3, {.padding = size2(a["padding"]), .padding_mode = a["padding_mode"].get<std::string>()});
    {
      NoGradGuard ng;
      conv.weight().copy_(load(c, "w"));
      conv.bias().copy_(load(c, "b"));
    }
    Tensor x = leaf(load(c, "x"), kFloat32);
    Tensor y = conv(x);
    y.backward(load(c, "gy"));
    expect_close(y, load(c, "y"), 2e-5, 2e-5, "y");
    expect_close(x.grad(), load(c, "gx"), 2e-5, 2e-5, "gx");
    expect_close(conv.weight().grad(), load(c, "gw"), 1e-4, 2e-5, "gw");
    expect_close(conv.bias().grad(), load(c, "gb"), 1e-4, 2e-5, "gb");
  }
}

// ---- golden: pooling ---------------------------------------------------------------------------------------------
TEST(LayersGolden, MaxPool2d) {
  auto cs = cases_of("max_pool2d");
  ASSERT_GE(cs.size(), 8u);
  for (const auto& c : cs) {
    for (Dtype d : {kFloat32, kFloat64}) {
      SCOPED_TRACE(c["name"].get<std::string>() + (d == kFloat32 ? " float32" : " float64"));
      const json& a = c["args"];
      Tensor x = leaf(load(c, "x"), d);
      std::optional<nn::Size2> st;
      if (!a["stride"].is_null()) st = size2(a["stride"]);
      auto r = F::max_pool2d_with_indices(x, size2(a["kernel"]), st, size2(a["padding"]), size2(a["dilation"]),
                                          a["ceil_mode"].get<bool>());
      r.output.backward(load(c, "gy").to(d));
      expect_close(r.output, load(c, "y"), 0, 0, "y");  // a selection: exact
      expect_close(r.indices, load(c, "idx"), 0, 0, "indices");
      Tol t = tol_for(d);
      expect_close(x.grad(), load(c, "gx"), t.atol, t.rtol, "gx");
    }
  }
}

TEST(LayersGolden, AvgPool2d) {
  auto cs = cases_of("avg_pool2d");
  ASSERT_GE(cs.size(), 5u);
  for (const auto& c : cs) {
    for (Dtype d : {kFloat32, kFloat64}) {
      SCOPED_TRACE(c["name"].get<std::string>() + (d == kFloat32 ? " float32" : " float64"));
      const json& a = c["args"];
      Tensor x = leaf(load(c, "x"), d);
      std::optional<nn::Size2> st;
      if (!a["stride"].is_null()) st = size2(a["stride"]);
      std::optional<int64_t> div;
      if (!a["divisor_override"].is_null()) div = a["divisor_override"].get<int64_t>();
      Tensor y = F::avg_pool2d(x, size2(a["kernel"]), st, size2(a["padding"]), a["ceil_mode"].get<bool>(),
                               a["count_include_pad"].get<bool>(), div);
      y.backward(load(c, "gy").to(d));
      Tol t = tol_for(d);
      expect_close(y, load(c, "y"), t.atol, t.rtol, "y");
      expect_close(x.grad(), load(c, "gx"), t.atol, t.rtol, "gx");
    }
  }
}

TEST(LayersGolden, AdaptiveAvgPool2d) {
  auto cs = cases_of("adaptive_avg_pool2d");
  ASSERT_GE(cs.size(), 4u);
  for (const auto& c : cs) {
    for (Dtype d : {kFloat32, kFloat64}) {
      SCOPED_TRACE(c["name"].get<std::string>() + (d == kFloat32 ? " float32" : " float64"));
      const json& os = c["args"]["output_size"];
      std::optional<int64_t> oh, ow;
      if (!os[0].is_null()) oh = os[0].get<int64_t>();
      if (!os[1].is_null()) ow = os[1].get<int64_t>();
      Tensor x = leaf(load(c, "x"), d);
      auto m = nn::AdaptiveAvgPool2d::with_sizes(oh, ow);
      Tensor y = d == kFloat32 ? m(x) : F::adaptive_avg_pool2d(x, oh, ow);
      y.backward(load(c, "gy").to(d));
      Tol t = tol_for(d);
      expect_close(y, load(c, "y"), t.atol, t.rtol, "y");
      expect_close(x.grad(), load(c, "gx"), t.atol, t.rtol, "gx");
    }
  }
}

// ---- golden: batch norm -----------------------------------------------------------------------------------------
TEST(LayersGolden, BatchNormModules) {
  auto cs = cases_of("batch_norm");
  ASSERT_GE(cs.size(), 8u);
  for (const auto& c : cs) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const json& a = c["args"];
    Tensor x0 = load(c, "x");
    const int64_t C = x0.size(1);
    nn::BatchNormOptions o{.eps = 1e-5, .momentum = a["momentum"].get<double>(), .affine = a["affine"].get<bool>(),
                           .track_running_stats = a["track"].get<bool>()};
    std::shared_ptr<nn::BatchNormBase> m;
    if (a["module"] == "BatchNorm2d") m = std::make_shared<nn::BatchNorm2d>(C, o);
    else m = std::make_shared<nn::BatchNorm1d>(C, o);
    m->train(a["training"].get<bool>());
    {
      NoGradGuard ng;
      if (o.affine) {
        m->weight().copy_(load(c, "w"));
        m->bias().copy_(load(c, "b"));
      }
      if (o.track_running_stats) {
        m->running_mean().copy_(load(c, "rm"));
        m->running_var().copy_(load(c, "rv"));
      }
    }
    Tensor x = leaf(x0, kFloat32);
    Tensor y = (*m)(x);
    EXPECT_EQ(y.grad_fn()->name(), "NativeBatchNormBackward0");
    y.backward(load(c, "gy"));
    expect_close(y, load(c, "y"), 3e-5, 3e-5, "y");
    expect_close(x.grad(), load(c, "gx"), 3e-5, 3e-4, "gx");
    if (o.affine) {
      expect_close(m->weight().grad(), load(c, "gw"), 1e-4, 1e-4, "gw");
      expect_close(m->bias().grad(), load(c, "gb"), 1e-4, 1e-4, "gb");
    }
    if (o.track_running_stats) {
      expect_close(m->running_mean(), load(c, "rm_out"), 1e-6, 1e-5, "running_mean");
      expect_close(m->running_var(), load(c, "rv_out"), 1e-6, 1e-5, "running_var");
      EXPECT_EQ(m->num_batches_tracked().item<int64_t>(), a["training"].get<bool>() ? 1 : 0);
    }

    // float64 through the functional form: tight agreement
    Tensor x64 = leaf(x0, kFloat64), w64 = leaf(load(c, "w"), kFloat64), b64 = leaf(load(c, "b"), kFloat64);
    Tensor rm64 = o.track_running_stats ? load(c, "rm").to(kFloat64) : Tensor();
    Tensor rv64 = o.track_running_stats ? load(c, "rv").to(kFloat64) : Tensor();
    const bool bn_training = a["training"].get<bool>() || !o.track_running_stats;
    Tensor y64 = F::batch_norm(x64, rm64, rv64, w64, b64, bn_training, *o.momentum, 1e-5);
    y64.backward(load(c, "gy").to(kFloat64));
    expect_close(y64, load(c, "y"), 1e-10, 1e-10, "y64");
    expect_close(x64.grad(), load(c, "gx"), 1e-10, 1e-9, "gx64");
    if (o.affine) {
      expect_close(w64.grad(), load(c, "gw"), 1e-10, 1e-10, "gw64");
      expect_close(b64.grad(), load(c, "gb"), 1e-10, 1e-10, "gb64");
    }
    if (o.track_running_stats) {
      expect_close(rm64, load(c, "rm_out"), 1e-12, 1e-12, "running_mean64");
      expect_close(rv64, load(c, "rv_out"), 1e-12, 1e-12, "running_var64");
    }
  }
}

TEST(LayersGolden, BatchNormCumulativeAverage) {
  auto cs = cases_of("batch_norm_cma");
  ASSERT_EQ(cs.size(), 1u);
  const json& c = cs[0];
  nn::BatchNorm2d bn(3, {.momentum = std::nullopt});
  EXPECT_EQ(bn.to_string(), "BatchNorm2d(3, eps=1e-05, momentum=None, affine=True, track_running_stats=True)");
  bn(load(c, "x1"));
  bn(load(c, "x2"));
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 2);
  expect_close(bn.running_mean(), load(c, "rm_out"), 1e-6, 1e-5, "running_mean");
  expect_close(bn.running_var(), load(c, "rv_out"), 1e-6, 1e-5, "running_var");
}

// ---- golden: linear -------------------------------------------------------------------------------------------------
TEST(LayersGolden, Linear) {
  auto cs = cases_of("linear");
  ASSERT_GE(cs.size(), 4u);
  for (const auto& c : cs) {
    for (Dtype d : {kFloat32, kFloat64}) {
      SCOPED_TRACE(c["name"].get<std::string>() + (d == kFloat32 ? " float32" : " float64"));
      Tensor x = leaf(load(c, "x"), d), w = leaf(load(c, "w"), d), b = leaf(load(c, "b"), d);
      Tensor y = F::linear(x, w, b);
      y.backward(load(c, "gy").to(d));
      Tol t = tol_for(d);
      expect_close(y, load(c, "y"), t.atol, t.rtol, "y");
      expect_close(x.grad(), load(c, "gx"), t.atol, t.rtol, "gx");
      expect_close(w.grad(), load(c, "gw"), t.atol, t.rtol, "gw");
      if (b.defined()) expect_close(b.grad(), load(c, "gb"), t.atol, t.rtol, "gb");
    }
  }
}

// ---- float64 finite differences ---------------------------------------------------------------------------------------
using actlab::testing::expect_gradcheck;
using actlab::testing::leaf64;

TEST(LayersGradcheck, Conv2d) {
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::conv2d(v[0], v[1], v[2], 2, 1); },
                   {leaf64({2, 2, 5, 6}, 1), leaf64({3, 2, 3, 3}, 2), leaf64({3}, 3)});
  expect_gradcheck(
      [](const std::vector<Tensor>& v) { return F::conv2d(v[0], v[1], Tensor(), {1, 2}, {2, 1}, {2, 1}, 2); },
      {leaf64({1, 4, 7, 6}, 4), leaf64({4, 2, 3, 2}, 5)});
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::conv2d(v[0], v[1], v[2], 1, "same"); },
                   {leaf64({1, 2, 5, 4}, 6), leaf64({2, 2, 2, 3}, 7), leaf64({2}, 8)});
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::conv2d(v[0], v[1], v[2]); },
                   {leaf64({3, 4, 4}, 9), leaf64({2, 3, 1, 1}, 10), leaf64({2}, 11)});
}

TEST(LayersGradcheck, Pools) {
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::max_pool2d(v[0], 3, 2, 1, 1, true); },
                   {leaf64({2, 2, 7, 6}, 12)});
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::max_pool2d(v[0], {2, 3}, nn::Size2(1, 2), 1, {2, 1}); },
                   {leaf64({1, 2, 7, 8}, 13)});
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::avg_pool2d(v[0], 3, 2, 1, true, false); },
                   {leaf64({2, 2, 7, 6}, 14)});
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::avg_pool2d(v[0], 2, std::nullopt, 1); },
                   {leaf64({1, 3, 5, 5}, 15)});
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::adaptive_avg_pool2d(v[0], nn::Size2(3, 4)); },
                   {leaf64({2, 2, 7, 9}, 16)});
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::adaptive_avg_pool2d(v[0], 1); },
                   {leaf64({2, 3, 4, 5}, 17)});
}

TEST(LayersGradcheck, BatchNormTrainAndEval) {
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "train" : "eval");
    expect_gradcheck(
        [training](const std::vector<Tensor>& v) {
          Tensor rm = zeros({3}, {kFloat64}), rv = full({3}, 1.5, {kFloat64});
          return F::batch_norm(v[0], rm, rv, v[1], v[2], training, 0.1, 1e-5);
        },
        {leaf64({4, 3, 2, 3}, 18, 2.0, 0.5), leaf64({3}, 19, 0.5, 1.0), leaf64({3}, 20)});
    expect_gradcheck(
        [training](const std::vector<Tensor>& v) {
          Tensor rm = zeros({4}, {kFloat64}), rv = ones({4}, {kFloat64});
          return F::batch_norm(v[0], rm, rv, Tensor(), Tensor(), training, 0.1, 1e-5);
        },
        {leaf64({5, 4}, 21)});
  }
}

TEST(LayersGradcheck, Linear) {
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::linear(v[0], v[1], v[2]); },
                   {leaf64({2, 3, 5}, 22), leaf64({4, 5}, 23), leaf64({4}, 24)});
  expect_gradcheck([](const std::vector<Tensor>& v) { return F::linear(v[0], v[1]); },
                   {leaf64({5}, 25), leaf64({2, 5}, 26)});
}

// ---- shapes, unbatched input, module state -------------------------------------------------------------------------
TEST(LayersConv, UnbatchedMatchesBatched) {
  manual_seed(3);
  nn::Conv2d conv(3, 4, 3, {.stride = 2, .padding = 1});
  Tensor x = randn({3, 9, 8});
  Tensor y1 = conv(x), y2 = conv(x.unsqueeze(0));
  ASSERT_EQ(y1.sizes(), (Shape{4, 5, 4}));
  expect_close(y1, y2.squeeze(0), 0, 0, "unbatched");
  nn::MaxPool2d mp(2);
  expect_close(mp(x), mp(x.unsqueeze(0)).squeeze(0), 0, 0, "maxpool unbatched");
}

TEST(LayersConv, ParametersAndInit) {
  manual_seed(0);
  nn::Conv2d conv(4, 16, {3, 5}, {.groups = 2});
  auto np = conv.named_parameters();
  ASSERT_EQ(np.size(), 2u);
  EXPECT_EQ(np[0].first, "weight");
  EXPECT_EQ(np[0].second.sizes(), (Shape{16, 2, 3, 5}));
  EXPECT_EQ(np[1].first, "bias");
  EXPECT_EQ(np[1].second.sizes(), (Shape{16}));
  EXPECT_TRUE(conv.weight().requires_grad());
  const double bound = 1.0 / std::sqrt(2.0 * 3 * 5);
  std::vector<double> w = conv.weight().to_vector();
  double mx = 0, mean = 0;
  for (double v : w) {
    EXPECT_LE(std::fabs(v), bound);
    mx = std::max(mx, std::fabs(v));
    mean += v / w.size();
  }
  EXPECT_GT(mx, 0.9 * bound);
  EXPECT_LT(std::fabs(mean), 0.2 * bound);
  for (double v : conv.bias().to_vector()) EXPECT_LE(std::fabs(v), bound);
  // Seeded: the same seed gives the same weights; another seed different ones.
  manual_seed(0);
  nn::Conv2d again(4, 16, {3, 5}, {.groups = 2});
  EXPECT_TRUE(again.weight().equal(conv.weight()));
  nn::Conv2d next(4, 16, {3, 5}, {.groups = 2});
  EXPECT_FALSE(next.weight().equal(conv.weight()));
  nn::Conv2d nob(1, 2, 3, {.bias = false});
  EXPECT_EQ(nob.parameters().size(), 1u);
  EXPECT_FALSE(nob.bias().defined());
}

TEST(LayersLinear, ParametersAndInit) {
  manual_seed(1);
  nn::Linear lin(32, 10);
  EXPECT_EQ(lin.weight().sizes(), (Shape{10, 32}));
  EXPECT_EQ(lin.bias().sizes(), (Shape{10}));
  const double bound = 1.0 / std::sqrt(32.0);
  for (double v : lin.weight().to_vector()) EXPECT_LE(std::fabs(v), bound);
  for (double v : lin.bias().to_vector()) EXPECT_LE(std::fabs(v), bound);
  Tensor y = lin(randn({64, 32}));
  EXPECT_EQ(y.sizes(), (Shape{64, 10}));
  EXPECT_EQ(y.grad_fn()->name(), "AddmmBackward0");
  nn::Linear nob(3, 2, false);
  EXPECT_EQ(nob.parameters().size(), 1u);
}

TEST(LayersBatchNorm, BuffersAndModes) {
  nn::BatchNorm2d bn(4);
  auto nb = bn.named_buffers();
  ASSERT_EQ(nb.size(), 3u);
  EXPECT_EQ(nb[0].first, "running_mean");
  EXPECT_EQ(nb[1].first, "running_var");
  EXPECT_EQ(nb[2].first, "num_batches_tracked");
  EXPECT_EQ(nb[2].second.dtype(), kInt64);
  EXPECT_EQ(nb[2].second.dim(), 0);
  EXPECT_EQ(bn.named_parameters().size(), 2u);
  Generator g(5);
  Tensor x = randn({8, 4, 3, 3}, {}, &g) * 3.0 + 2.0;
  Tensor y = bn(x);
  // training output: per-channel mean 0, biased variance 1
  Tensor m = mean(y, {0, 2, 3}), v = var(y, {0, 2, 3}, false);
  for (double e : m.to_vector()) EXPECT_NEAR(e, 0.0, 1e-5);
  for (double e : v.to_vector()) EXPECT_NEAR(e, 1.0, 1e-3);
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 1);
  // running stats moved 10% toward the batch stats (unbiased variance)
  Tensor bm = mean(x, {0, 2, 3}), bv = var(x, {0, 2, 3}, true);
  expect_close(bn.running_mean(), bm * 0.1, 1e-5, 1e-5, "running_mean");
  expect_close(bn.running_var(), bv * 0.1 + 0.9, 1e-4, 1e-5, "running_var");
  // eval: running stats, buffers untouched
  bn.eval();
  Tensor rm = bn.running_mean().clone();
  Tensor ye = bn(x);
  EXPECT_TRUE(bn.running_mean().equal(rm));
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 1);
  Tensor expect = (x - bn.running_mean().view({1, 4, 1, 1})) / sqrt(bn.running_var().view({1, 4, 1, 1}) + 1e-5);
  expect_close(ye, expect, 1e-5, 1e-5, "eval output");
  // no running stats: eval uses batch stats
  nn::BatchNorm2d nt(4, {.track_running_stats = false});
  EXPECT_EQ(nt.named_buffers().size(), 0u);
  nt.eval();
  Tensor yn = nt(x);
  for (double e : mean(yn, {0, 2, 3}).to_vector()) EXPECT_NEAR(e, 0.0, 1e-5);
}

TEST(LayersFlatten, Shapes) {
  nn::Flatten f;
  EXPECT_EQ(f(zeros({2, 3, 4, 5})).sizes(), (Shape{2, 60}));
  nn::Flatten f2(0, 1);
  EXPECT_EQ(f2(zeros({2, 3, 4})).sizes(), (Shape{6, 4}));
  Tensor x = randn({2, 3, 1, 1}).requires_grad_(true);
  f(x).sum().backward();
  EXPECT_EQ(x.grad().sizes(), x.sizes());
}

// ---- dropout ---------------------------------------------------------------------------------------------------------------
TEST(LayersDropout, EvalAndZeroAreIdentity) {
  nn::Dropout d(0.5);
  Tensor x = randn({10});
  d.eval();
  EXPECT_TRUE(d(x).is_same(x));
  EXPECT_TRUE(F::dropout(x, 0.0, true).is_same(x));
  EXPECT_TRUE(F::dropout(x, 0.7, false).is_same(x));
}

TEST(LayersDropout, TrainStatisticsAndMaskConsistency) {
  for (double p : {0.2, 0.5, 0.9}) {
    SCOPED_TRACE(p);
    nn::Dropout d(p);
    const int64_t n = 200000;
    Tensor x = (rand({n}) + 0.5).detach().requires_grad_(true);
    manual_seed(42);
    Tensor y = d(x);
    Tensor gy = randn({n});
    y.backward(gy);
    std::vector<double> xv = x.to_vector(), yv = y.to_vector(), gv = x.grad().to_vector(), gyv = gy.to_vector();
    int64_t zeros_n = 0;
    const double scale = 1.0 / (1.0 - p);
    for (int64_t i = 0; i < n; ++i) {
      if (yv[i] == 0) {
        ++zeros_n;
        ASSERT_EQ(gv[i], 0.0) << i;  // dropped in forward => no gradient
      } else {
        ASSERT_NEAR(yv[i], xv[i] * scale, 1e-5 * yv[i]) << i;
        ASSERT_NEAR(gv[i], gyv[i] * scale, 1e-5 * std::fabs(gv[i]) + 1e-7) << i;
      }
    }
    const double frac = double(zeros_n) / n, sd = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(frac, p, 5 * sd);
    // the same seed gives the same mask; the next call a different one
    manual_seed(42);
    Tensor y2 = d(x.detach());
    EXPECT_TRUE(y2.equal(y.detach()));
    EXPECT_FALSE(d(x.detach()).equal(y2));
  }
}

TEST(LayersDropout, PEqualsOneAndInplace) {
  Tensor x = randn({100});
  Tensor y = F::dropout(x, 1.0, true);
  for (double v : y.to_vector()) EXPECT_EQ(v, 0.0);
  Tensor a = randn({1000}), keep = a.clone();
  nn::Dropout d(0.5, true);
  Tensor r = d(a);
  EXPECT_TRUE(r.is_same(a));
  std::vector<double> av = a.to_vector(), kv = keep.to_vector();
  int changed = 0;
  for (size_t i = 0; i < av.size(); ++i) {
    EXPECT_TRUE(av[i] == 0.0 || std::fabs(av[i] - 2 * kv[i]) <= 1e-6 * std::fabs(kv[i]));
    changed += av[i] == 0.0;
  }
  EXPECT_GT(changed, 400);
  EXPECT_LT(changed, 600);
}

// ---- errors ------------------------------------------------------------------------------------------------------------------
TEST(LayersErrors, Conv2d) {
  nn::Conv2d conv(1, 16, 3);
  expect_error([&] { conv(zeros({28, 28})); },
               "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [28, 28]");
  expect_error([&] { conv(zeros({64, 3, 28, 28})); },
               "Given groups=1, weight of size [16, 1, 3, 3], expected input[64, 3, 28, 28] to have 1 channels, but "
               "got 3 channels instead");
  expect_error([&] { conv(zeros({3, 28, 28})); },
               "Given groups=1, weight of size [16, 1, 3, 3], expected input[1, 3, 28, 28] to have 1 channels, but "
               "got 3 channels instead");
  expect_error([&] { conv(zeros({1, 1, 2, 2})); },
               "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be "
               "greater than actual input size");
  expect_error([] { nn::Conv2d(2, 3, 3, {.groups = 2}); }, "out_channels must be divisible by groups");
  expect_error([] { nn::Conv2d(3, 4, 3, {.groups = 2}); }, "in_channels must be divisible by groups");
  expect_error([] { nn::Conv2d(3, 4, 3, {.groups = 0}); }, "groups must be a positive integer");
  expect_error([] { nn::Conv2d(3, 4, 3, {.padding = "foo"}); },
               "Invalid padding string 'foo', should be one of {'same', 'valid'}");
  expect_error([] { nn::Conv2d(3, 4, 3, {.stride = 2, .padding = "same"}); },
               "padding='same' is not supported for strided convolutions");
  expect_error([] { nn::Conv2d(3, 4, 3, {.padding_mode = "foo"}); },
               "padding_mode must be one of {'reflect', 'replicate', 'zeros', 'circular'}, but got padding_mode='foo'");
  Tensor x = zeros({1, 4, 5, 5});
  expect_error([&] { F::conv2d(x, zeros({3, 2, 3, 3}), Tensor(), 1, 0, 1, 2); },
               "Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of size "
               "[[3, 2, 3, 3]] instead");
  expect_error([&] { F::conv2d(x, zeros({4, 2, 3, 3}), zeros({3}), 1, 0, 1, 2); },
               "Given weight of size [4, 2, 3, 3], expected bias to be 1-dimensional with 4 elements, but got bias "
               "of size [3] instead");
  expect_error([&] { F::conv2d(x, zeros({4, 2, 3, 3}), Tensor(), 0, 0, 1, 2); }, "non-positive stride is not supported");
  expect_error([&] { F::conv2d(x, zeros({4, 2, 3, 3}), Tensor(), 1, -1, 1, 2); }, "negative padding is not supported");
  expect_error([&] { F::conv2d(x, zeros({4, 2, 3, 3}), Tensor(), 1, 0, 0, 2); },
               "non-positive dilation is not supported");
  expect_error([] { nn::Conv2d(1, 1, 3, {.padding = 3, .padding_mode = "reflect"})(zeros({1, 1, 2, 2})); },
               "Argument #4: Padding size should be less than the corresponding input dimension, but got: padding "
               "(3, 3) at dimension 3 of input [1, 1, 2, 2]");
}

TEST(LayersErrors, Pools) {
  expect_error([] { nn::MaxPool2d(3, {.padding = 2})(zeros({1, 1, 8, 8})); },
               "pad should be at most half of kernel size, but got pad=2 and kernel_size=3");
  expect_error([] { nn::MaxPool2d(3)(zeros({8, 8})); }, "non-empty 3D or 4D (batch mode) tensor expected for input");
  expect_error([] { nn::MaxPool2d(3)(zeros({1, 1, 2, 2})); },
               "Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small");
  expect_error([] { nn::MaxPool2d(2, {.stride = 0})(zeros({1, 1, 2, 2})); }, "stride should not be zero");
  expect_error([] { nn::MaxPool2d(2, {.dilation = 0})(zeros({1, 1, 2, 2})); },
               "dilation should be greater than zero, but got dilationH: 0 dilationW: 0");
  expect_error([] { nn::AvgPool2d(3, {.padding = 2})(zeros({1, 1, 8, 8})); },
               "pad should be at most half of kernel size, but got pad=2 and kernel_size=3");
  expect_error([] { nn::AvgPool2d(3)(zeros({1, 1, 2, 2})); },
               "Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small");
  expect_error([] { nn::AdaptiveAvgPool2d(3)(zeros({8, 8})); },
               "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [8, 8]");
  expect_error([] { nn::AdaptiveAvgPool2d(3)(zeros({1, 1, 0, 8})); },
               "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, but input has "
               "sizes [1, 1, 0, 8] with dimension 2 being empty");
  expect_error([] { nn::AdaptiveAvgPool2d(-1)(zeros({1, 1, 4, 8})); },
               "adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but received {-1, -1}");
}

TEST(LayersErrors, BatchNormLinearDropoutFlatten) {
  expect_error([] { nn::BatchNorm2d(16)(zeros({1, 16, 1, 1})); },
               "Expected more than 1 value per channel when training, got input size [1, 16, 1, 1]");
  expect_error([] { nn::BatchNorm1d(16)(zeros({1, 16})); },
               "Expected more than 1 value per channel when training, got input size [1, 16]");
  expect_error([] { nn::BatchNorm1d(16)(zeros({16})); }, "expected 2D or 3D input (got 1D input)");
  expect_error([] { nn::BatchNorm2d(16)(zeros({2, 16, 3})); }, "expected 4D input (got 3D input)");
  expect_error([] { nn::BatchNorm2d(16)(zeros({2, 15, 3, 3})); }, "running_mean should contain 15 elements not 16");
  expect_error([] { F::batch_norm(zeros({4, 3, 5}), Tensor(), Tensor(), Tensor(), Tensor(), false); },
               "running_mean must be defined in evaluation mode");
  expect_error([] { F::batch_norm(zeros({4, 3, 5}), zeros({3}), ones({3}), ones({4})); },
               "weight should contain 3 elements not 4");
  // one value per channel is fine in eval
  nn::BatchNorm1d bn(16);
  bn.eval();
  EXPECT_EQ(bn(zeros({1, 16})).sizes(), (Shape{1, 16}));

  expect_error([] { nn::Linear(32, 10)(zeros({64, 30})); },
               "mat1 and mat2 shapes cannot be multiplied (64x30 and 32x10)");
  expect_error([] { nn::Linear(32, 10)(zeros({30})); }, "mat1 and mat2 shapes cannot be multiplied (1x30 and 32x10)");
  expect_error([] { nn::Dropout(1.5); }, "dropout probability has to be between 0 and 1, but got 1.5");
  expect_error([] { F::dropout(zeros({3}), -0.5); }, "dropout probability has to be between 0 and 1, but got -0.5");
  expect_error([] { nn::Flatten(2, 1)(zeros({3, 4, 5})); },
               "flatten() has invalid args: start_dim cannot come after end_dim");
}

// ---- printing ---------------------------------------------------------------------------------------------------------------
TEST(LayersPrinting, MatchesPyTorch) {
  EXPECT_EQ(nn::Conv2d(1, 16, 3, {.padding = 1}).to_string(),
            "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  EXPECT_EQ(nn::Conv2d(16, 32, 3).to_string(), "Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1))");
  EXPECT_EQ(nn::Conv2d(1, 16, 3, {.padding = "same"}).to_string(),
            "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=same)");
  EXPECT_EQ(nn::Conv2d(4, 16, {3, 5}, {.stride = 2, .padding = {1, 2}, .dilation = 2, .groups = 2, .bias = false,
                                       .padding_mode = "reflect"})
                .to_string(),
            "Conv2d(4, 16, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), dilation=(2, 2), groups=2, bias=False, "
            "padding_mode=reflect)");
  EXPECT_EQ(nn::BatchNorm2d(16).to_string(),
            "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(nn::BatchNorm1d(3, {.momentum = std::nullopt}).to_string(),
            "BatchNorm1d(3, eps=1e-05, momentum=None, affine=True, track_running_stats=True)");
  EXPECT_EQ(nn::BatchNorm1d(3, {.eps = 0.001, .affine = false, .track_running_stats = false}).to_string(),
            "BatchNorm1d(3, eps=0.001, momentum=0.1, affine=False, track_running_stats=False)");
  EXPECT_EQ(nn::MaxPool2d(2).to_string(), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(nn::MaxPool2d({2, 3}, {.stride = 1}).to_string(),
            "MaxPool2d(kernel_size=(2, 3), stride=1, padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(nn::AvgPool2d(2).to_string(), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  EXPECT_EQ(nn::AvgPool2d(3, {.stride = 2, .padding = 1, .ceil_mode = true, .count_include_pad = false}).to_string(),
            "AvgPool2d(kernel_size=3, stride=2, padding=1)");
  EXPECT_EQ(nn::AdaptiveAvgPool2d(1).to_string(), "AdaptiveAvgPool2d(output_size=1)");
  EXPECT_EQ(nn::AdaptiveAvgPool2d({2, 3}).to_string(), "AdaptiveAvgPool2d(output_size=(2, 3))");
  EXPECT_EQ(nn::AdaptiveAvgPool2d(std::nullopt, 3).to_string(), "AdaptiveAvgPool2d(output_size=(None, 3))");
  EXPECT_EQ(nn::Linear(32, 10).to_string(), "Linear(in_features=32, out_features=10, bias=True)");
  EXPECT_EQ(nn::Linear(3, 4, false).to_string(), "Linear(in_features=3, out_features=4, bias=False)");
  EXPECT_EQ(nn::Flatten().to_string(), "Flatten(start_dim=1, end_dim=-1)");
  EXPECT_EQ(nn::Dropout().to_string(), "Dropout(p=0.5, inplace=False)");
  EXPECT_EQ(nn::Dropout(0.0, true).to_string(), "Dropout(p=0.0, inplace=True)");
}

// ---- the seed CNN end to end ------------------------------------------------------------------------------------------------
TEST(LayersSeedCnn, ForwardBackwardShapesAndGrads) {
  manual_seed(7);
  nn::Conv2d c1(1, 16, 3, {.padding = 1});
  nn::BatchNorm2d bn(16);
  nn::MaxPool2d mp(2);
  nn::Conv2d c2(16, 32, 3, {.padding = 1});
  nn::AdaptiveAvgPool2d ap(1);
  nn::Flatten fl;
  nn::Linear fc(32, 10);
  Tensor x = randn({8, 1, 28, 28});
  Tensor h = mp(F::relu(bn(c1(x))));
  EXPECT_EQ(h.sizes(), (Shape{8, 16, 14, 14}));
  Tensor y = fc(fl(ap(F::relu(c2(h)))));
  EXPECT_EQ(y.sizes(), (Shape{8, 10}));
  y.sum().backward();
  for (nn::Module* m : std::initializer_list<nn::Module*>{&c1, &bn, &c2, &fc})
    for (auto& [name, p] : m->named_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << m->type_name() << "." << name;
      EXPECT_EQ(p.grad().sizes(), p.sizes());
      double s = 0;
      for (double v : p.grad().to_vector()) s += std::fabs(v);
      EXPECT_GT(s, 0) << m->type_name() << "." << name;
    }
}

}  // namespace

// MaxPool2d(2) on float runs the SIMD kernel (kernels::max_pool_2x2): the same maxima and indices as the
// generic loop (reference mode) for widths below, at and above the vector width, odd sizes (floor), ties
// (the first in window order wins) and NaN (a NaN wins and stays), and the same gradient routing; on every
// SIMD target this CPU runs (the partial last vector of a row is a masked load on AVX2/AVX-512, a copy below).
// The Highway targets this CPU runs, for tests that run a kernel on each (hwy::SetSupportedTargetsForTest).
static std::vector<int64_t> supported_simd_targets() {
  std::vector<int64_t> targets;
  for (int64_t t : {int64_t{HWY_AVX3_DL}, int64_t{HWY_AVX3}, int64_t{HWY_AVX2}, int64_t{HWY_SSE4}, int64_t{HWY_SSSE3},
                    int64_t{HWY_EMU128}, int64_t{HWY_SCALAR}})
    if (hwy::SupportedTargets() & t) targets.push_back(t);
  return targets;
}

TEST(MaxPool2d, SimdKernelMatchesGenericLoop) {
  // max_pool2d_with_indices runs the kernel with int64 positions; max_pool2d (no indices asked for) with one-byte
  // window codes and a backward that writes every element from them. Both against the generic loops (reference
  // mode) on every SIMD target: ties, NaN, odd sizes (rows and columns no window covers), rows shorter and longer
  // than a vector, and gradients with -0.0, inf and NaN (the winner gets 0 + g: -0.0 becomes +0.0).
  const std::vector<int64_t> targets = supported_simd_targets();
  ASSERT_GE(targets.size(), 2u);
  struct RestoreTargets {  // also when an assertion below returns early
    ~RestoreTargets() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!(std::isnan(a[i]) && std::isnan(b[i])) && (a[i] != b[i] || std::signbit(a[i]) != std::signbit(b[i])))
        return false;
    return true;
  };
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    for (auto [h, w] : {std::pair<int64_t, int64_t>{2, 2}, {5, 7}, {28, 28}, {14, 30}, {9, 33}, {6, 64}, {3, 67},
                        {2, 3}, {7, 2}}) {
      SCOPED_TRACE(detail::concat(h, "x", w));
      manual_seed(static_cast<uint64_t>(h * 100 + w));
      Tensor x = randint(-3, 4, {2, 3, h, w}).to(kFloat32);  // small integers: many ties
      std::vector<double> xv = x.to_vector();
      for (size_t i = 0; i < xv.size(); i += 7) xv[i] = std::nan("");
      x = from_data(xv, x.sizes(), {kFloat32});
      std::vector<double> gv = randn({2, 3, h / 2, w / 2}).to_vector();
      for (size_t i = 0; i < gv.size(); i += 3) gv[i] = -0.0;
      if (gv.size() > 4) {
        gv[1] = std::numeric_limits<double>::infinity();
        gv[4] = std::nan("");
      }
      Tensor gy = from_data(gv, {2, 3, h / 2, w / 2}, {kFloat32});
      auto run = [&](bool ref, bool indices) {
        kernels::set_reference_kernels(ref);
        Tensor xr = x.clone().requires_grad_(true);
        Tensor y, idx;
        if (indices) {
          auto r = F::max_pool2d_with_indices(xr, 2);
          y = r.output;
          idx = r.indices;
        } else {
          y = F::max_pool2d(xr, 2);
        }
        y.backward(gy);
        kernels::set_reference_kernels(false);
        return std::tuple{y.detach().to_vector(), idx.defined() ? idx.to_vector() : std::vector<double>{},
                          xr.grad().to_vector()};
      };
      auto [y_ref, idx_ref, gx_ref] = run(true, true);
      for (bool indices : {true, false}) {
        SCOPED_TRACE(indices ? "with indices" : "codes");
        auto [y, idx, gx] = run(false, indices);
        if (indices) ASSERT_EQ(idx, idx_ref);
        ASSERT_TRUE(same(gx, gx_ref));
        ASSERT_TRUE(same(y, y_ref));
      }
    }
  }
}

TEST(Conv2d, Conv3x3KernelsMatchIm2colOnEveryTarget) {
  // Float32 3x3 / stride 1 / padding 1 convs run the direct or the Winograd kernels (kernels/conv_kernels.h) for
  // the output and both gradients; reference mode runs im2col + GEMM. Small integers make every sum exact in float32, so
  // the two must agree bit for bit whatever their order of summation; plane widths below, at and above a vector,
  // and channel counts beside the kernel's register blocks.
  const std::vector<int64_t> targets = supported_simd_targets();
  ASSERT_GE(targets.size(), 2u);
  struct RestoreTargets {
    ~RestoreTargets() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  struct Shape4 {
    int64_t n, c, o, h, w;
  };
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    // Channel counts that are multiples of 16 take the Winograd kernel (kernels/winograd_simd.cc): even and odd
    // plane sizes, tile counts beside its register blocks, one vector of output channels and a pair plus one.
    for (const Shape4& s : {Shape4{2, 1, 16, 28, 28}, {3, 16, 32, 14, 14}, {2, 3, 9, 5, 7}, {2, 2, 17, 1, 1},
                            {1, 4, 3, 1, 19}, {2, 5, 8, 17, 2}, {3, 9, 1, 33, 16}, {9, 2, 5, 4, 8},
                            {2, 32, 16, 14, 14}, {2, 16, 48, 9, 5}, {1, 16, 16, 1, 1}, {3, 32, 32, 7, 30}}) {
      manual_seed(static_cast<uint64_t>(s.c * 1000 + s.o * 100 + s.h * 10 + s.w));
      Tensor x = randint(-3, 4, {s.n, s.c, s.h, s.w}).to(kFloat32);
      Tensor w = randint(-3, 4, {s.o, s.c, 3, 3}).to(kFloat32);
      Tensor b = randint(-3, 4, {s.o}).to(kFloat32);
      Tensor g = randint(-3, 4, {s.n, s.o, s.h, s.w}).to(kFloat32);
      auto run = [&](bool ref) {
        kernels::set_reference_kernels(ref);
        Tensor xr = x.clone().requires_grad_(true), wr = w.clone().requires_grad_(true);
        Tensor br = b.clone().requires_grad_(true);
        Tensor y = F::conv2d(xr, wr, br, 1, 1);
        y.backward(g);
        kernels::set_reference_kernels(false);
        return std::tuple{y.detach().to_vector(), xr.grad().to_vector(), wr.grad().to_vector(), br.grad().to_vector()};
      };
      auto [y, gx, gw, gb] = run(false);
      auto [y_ref, gx_ref, gw_ref, gb_ref] = run(true);
      const std::string where = detail::concat(s.n, "x", s.c, "x", s.h, "x", s.w, " -> ", s.o);
      ASSERT_EQ(y, y_ref) << where;
      ASSERT_EQ(gx, gx_ref) << where;
      ASSERT_EQ(gw, gw_ref) << where;
      ASSERT_EQ(gb, gb_ref) << where;
    }
  }
  // Real values: within float32 rounding of the float64 result (which takes the im2col path).
  manual_seed(7);
  Tensor x = randn({4, 16, 14, 14}), w = randn({32, 16, 3, 3}) * 0.1, g = randn({4, 32, 14, 14});
  Tensor xr = x.clone().requires_grad_(true), wr = w.clone().requires_grad_(true);
  Tensor y = F::conv2d(xr, wr, Tensor(), 1, 1);
  y.backward(g);
  Tensor x64 = x.to(kFloat64).requires_grad_(true), w64 = w.to(kFloat64).requires_grad_(true);
  Tensor y64 = F::conv2d(x64, w64, Tensor(), 1, 1);
  y64.backward(g.to(kFloat64));
  EXPECT_LT((y.to(kFloat64) - y64).abs().max().item<double>(), 1e-5);
  EXPECT_LT((xr.grad().to(kFloat64) - x64.grad()).abs().max().item<double>(), 1e-5);
  EXPECT_LT((wr.grad().to(kFloat64) - w64.grad()).abs().max().item<double>(), 1e-4);  // sums of 784 terms
  // Infinities and NaN propagate as through im2col's explicit zeros, in the output and the weight gradient
  // (Winograd's transforms would smear an infinity over its tile as NaN: such an image, or block of images for
  // the weight gradient, goes through the direct kernel).
  std::vector<double> xv = x.to_vector();
  xv[5] = std::numeric_limits<double>::infinity();
  xv[200] = std::nan("");
  Tensor xs = from_data(xv, x.sizes(), {kFloat32});
  auto outputs = [&](bool ref) {
    kernels::set_reference_kernels(ref);
    Tensor wg = w.clone().requires_grad_(true);
    Tensor out = F::conv2d(xs, wg, Tensor(), 1, 1);
    out.backward(g);
    kernels::set_reference_kernels(false);
    return std::pair{out.detach().to_vector(), wg.grad().to_vector()};
  };
  const auto [ref_y, ref_gw] = outputs(true);
  const auto [got_y, got_gw] = outputs(false);
  for (const auto& [got, ref] : {std::pair{&got_y, &ref_y}, std::pair{&got_gw, &ref_gw}}) {
    ASSERT_EQ(got->size(), ref->size());
    for (size_t i = 0; i < got->size(); ++i) {
      const double r = (*ref)[i], v = (*got)[i];
      if (std::isnan(r) || std::isinf(r)) {
        EXPECT_TRUE((std::isnan(r) && std::isnan(v)) || v == r) << i;
      } else {
        EXPECT_NEAR(v, r, 1e-4 * (1 + std::abs(r))) << i;
      }
    }
  }
}
