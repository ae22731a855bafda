#include <gtest/gtest.h>

#include <cmath>

#include "actlab/actlab.h"
#include "actlab/nn/activation.h"
#include "actlab/nn/functional.h"
#include "kernels/activation_kernels.h"
#include "test_util.h"

using namespace actlab;
using kernels::ActId;
namespace F = actlab::nn::functional;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST(ActivationSpec, ParsesPyTorchConstructorSyntax) {
  EXPECT_EQ(nn::parse_activation_spec("ReLU").id, ActId::ReLU);
  EXPECT_EQ(nn::parse_activation_spec("ReLU()").id, ActId::ReLU);
  EXPECT_EQ(nn::parse_activation_spec("nn.ReLU(inplace=True)").inplace(), true);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("LeakyReLU").get("negative_slope"), 0.01);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("LeakyReLU(0.2)").get("negative_slope"), 0.2);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("LeakyReLU(negative_slope=0.2)").get("negative_slope"), 0.2);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("GELU(approximate='tanh')").get("approximate"), 1.0);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("GELU(approximate=\"none\")").get("approximate"), 0.0);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("Softmax(dim=1)").get("dim"), 1.0);
  EXPECT_TRUE(std::isnan(nn::parse_activation_spec("Softmax").get("dim")));
  auto sp = nn::parse_activation_spec("Softplus(beta=2, threshold=10)");
  EXPECT_DOUBLE_EQ(sp.get("beta"), 2.0);
  EXPECT_DOUBLE_EQ(sp.get("threshold"), 10.0);
  auto ht = nn::parse_activation_spec(" Hardtanh( min_val=-2.0 , max_val=3.0 ) ");
  EXPECT_DOUBLE_EQ(ht.get("min_val"), -2.0);
  EXPECT_DOUBLE_EQ(ht.get("max_val"), 3.0);
  auto th = nn::parse_activation_spec("Threshold(threshold=0.1, value=20.0)");
  EXPECT_DOUBLE_EQ(th.get("threshold"), 0.1);
  EXPECT_DOUBLE_EQ(th.get("value"), 20.0);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("ELU(0.5, True)").get("alpha"), 0.5);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("PReLU(num_parameters=3, init=0.1)").get("num_parameters"), 3);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("RReLU(0.1, 0.3)").get("upper"), 0.3);
  EXPECT_DOUBLE_EQ(nn::parse_activation_spec("LeakyReLU(1e-2,)").get("negative_slope"), 0.01);
}

// Found by fuzz_spec: an integer parameter beyond int64 was converted from double, which is undefined behaviour.
TEST(ActivationSpec, IntegersBeyondInt64AreErrors) {
  try {
    nn::parse_activation_spec("Softmax(-12222222222222222222222)");
    FAIL() << "parsed";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "Softmax: dim is out of range for a 64-bit integer, got '-12222222222222222222222'");
  }
  EXPECT_THROW(nn::parse_activation_spec("GLU(dim=9223372036854775808)"), ValueError);
  EXPECT_EQ(nn::parse_activation_spec("Softmax(dim=9007199254740992)").to_string(), "Softmax(dim=9007199254740992)");
}

TEST(ActivationSpec, EveryRowParsesByName) {
  for (const auto& row : kernels::kActivationTable) {
    std::string spec(row.name);
    if (row.id == ActId::Threshold) spec += "(0.1, 20.0)";
    auto s = nn::parse_activation_spec(spec);
    EXPECT_EQ(s.id, row.id);
    EXPECT_EQ(nn::parse_activation_spec(s.to_string()).to_string(), s.to_string());
  }
}

TEST(ActivationSpec, CanonicalText) {
  EXPECT_EQ(nn::parse_activation_spec("LeakyReLU(0.2)").to_string(), "LeakyReLU(negative_slope=0.2)");
  EXPECT_EQ(nn::parse_activation_spec("LeakyReLU(0.01)").to_string(), "LeakyReLU");
  EXPECT_EQ(nn::parse_activation_spec("GELU(approximate='tanh')").to_string(), "GELU(approximate='tanh')");
  EXPECT_EQ(nn::parse_activation_spec("Threshold(0.1, 20)").to_string(), "Threshold(threshold=0.1, value=20.0)");
}

TEST(ActivationSpec, ClearErrors) {
  auto err = [](const char* s) { return error_of([&] { nn::parse_activation_spec(s); }); };
  EXPECT_TRUE(contains(err("Relu"), "unknown activation 'Relu' (did you mean 'ReLU'?); valid names: ReLU, LeakyReLU"));
  EXPECT_TRUE(contains(err("Swish"), "valid names:"));
  EXPECT_TRUE(contains(err("LeakyReLU(slope=0.2)"), "unexpected keyword argument 'slope'; valid keywords: negative_slope, inplace"));
  EXPECT_TRUE(contains(err("LeakyReLU(negative_slope=abc)"), "negative_slope must be a finite number, got 'abc'"));
  EXPECT_TRUE(contains(err("LeakyReLU(0.1, True, 3)"), "takes at most 2 arguments"));
  EXPECT_TRUE(contains(err("GELU(approximate='fast')"), "approximate must be one of 'none', 'tanh'"));
  EXPECT_TRUE(contains(err("Softmax(dim=1.5)"), "dim must be an integer or None"));
  EXPECT_TRUE(contains(err("Threshold(threshold=0.1)"), "missing required argument 'value'"));
  EXPECT_TRUE(contains(err("ReLU(inplace=yes)"), "inplace must be True or False"));
  EXPECT_TRUE(contains(err("LeakyReLU(0.1"), "expected ',' or ')'"));
  EXPECT_TRUE(contains(err("ReLU)"), "unexpected text"));
  EXPECT_TRUE(contains(err("LeakyReLU(negative_slope=0.1, negative_slope=0.2)"), "multiple values"));
  EXPECT_TRUE(contains(err("LeakyReLU(negative_slope=0.1, 0.2)"), "positional argument follows keyword argument"));
  EXPECT_TRUE(contains(err("Hardtanh(min_val=2, max_val=1)"), "must be greater than min_val"));
  EXPECT_TRUE(contains(err("CELU(alpha=0)"), "alpha cannot be 0"));
  EXPECT_TRUE(contains(err("RReLU(0.5, 0.1)"), "must be less than or equal to upper"));
  EXPECT_TRUE(contains(err("LeakyReLU(nan)"), "finite number"));
  EXPECT_TRUE(contains(err(""), "empty activation spec"));
  // Out-of-range dims are reported against the input they meet.
  auto softmax = nn::make_activation("Softmax(dim=5)");
  EXPECT_TRUE(contains(error_of([&] { (*softmax)(zeros({2, 3})); }),
                       "Dimension out of range (expected to be in range of [-2, 1], but got 5)"));
}

TEST(ActivationModule, PrintsLikePyTorch) {
  EXPECT_EQ(nn::ReLU().to_string(), "ReLU()");
  EXPECT_EQ(nn::ReLU(true).to_string(), "ReLU(inplace=True)");
  EXPECT_EQ(nn::LeakyReLU({.negative_slope = 0.2}).to_string(), "LeakyReLU(negative_slope=0.2)");
  EXPECT_EQ(nn::ELU().to_string(), "ELU(alpha=1.0)");
  EXPECT_EQ(nn::GELU().to_string(), "GELU(approximate='none')");
  EXPECT_EQ(nn::Softmax({.dim = 1}).to_string(), "Softmax(dim=1)");
  EXPECT_EQ(nn::Softmax().to_string(), "Softmax(dim=None)");
  EXPECT_EQ(nn::Hardtanh().to_string(), "Hardtanh(min_val=-1.0, max_val=1.0)");
  EXPECT_EQ(nn::Softshrink().to_string(), "Softshrink(0.5)");
  EXPECT_EQ(nn::PReLU().to_string(), "PReLU(num_parameters=1)");
  EXPECT_EQ(nn::Threshold({.threshold = 0.1, .value = 20.0}).to_string(), "Threshold(threshold=0.1, value=20.0)");
  EXPECT_EQ(nn::Sigmoid().to_string(), "Sigmoid()");
}

TEST(ActivationModule, InplaceTrapOfTheSeed) {
  // x = torch.tensor([-1.0, 2.0]); y = nn.ReLU(inplace=True)(x)  -> x is now [0, 2]
  Tensor x = tensor({-1.0f, 2.0f});
  Tensor y = nn::ReLU(/*inplace=*/true)(x);
  EXPECT_EQ(x.to_vector(), (std::vector<double>{0, 2}));
  EXPECT_TRUE(y.shares_storage(x));
  EXPECT_EQ(x._version(), 1u);
  // The safe default keeps x.
  Tensor x2 = tensor({-1.0f, 2.0f});
  Tensor y2 = nn::ReLU()(x2);
  EXPECT_EQ(x2.to_vector(), (std::vector<double>{-1, 2}));
  EXPECT_EQ(y2.to_vector(), (std::vector<double>{0, 2}));
  // In place on a non-contiguous view changes the viewed elements only.
  Tensor m = tensor({{-1, -2}, {-3, 4}});
  Tensor col = m.select(1, 0);
  nn::ReLU(true)(col);
  EXPECT_EQ(m.to_vector(), (std::vector<double>{0, -2, 0, 4}));
}

TEST(ActivationModule, BackwardReadsOutputOrInputAsPyTorch) {
  // ReLU saves its output: modifying the input afterwards does not disturb backward...
  Tensor x = tensor({-1, 2}, {.requires_grad = true});
  Tensor h = x * 1.0;
  Tensor y = F::relu(h);
  h.mul_(5.0);
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 1}));
  // ...but modifying the output does.
  Tensor x2 = tensor({-1, 2}, {.requires_grad = true});
  Tensor y2 = F::sigmoid(x2);
  Tensor z2 = y2 * 1.0;
  y2.mul_(2.0);
  EXPECT_TRUE(contains(error_of([&] { z2.sum().backward(); }), "output 0 of SigmoidBackward0"));
  // GELU saves its input: modifying the input breaks backward.
  Tensor x3 = tensor({-1, 2}, {.requires_grad = true});
  Tensor h3 = x3 * 1.0;
  Tensor y3 = F::gelu(h3);
  h3.add_(1.0);
  EXPECT_TRUE(contains(error_of([&] { y3.sum().backward(); }), "output 0 of MulBackward1"));
  // In-place SiLU keeps a copy of its input: backward is exact.
  Tensor x4 = tensor({-1.5, 0.5, 3.0}, {.requires_grad = true});
  Tensor h4 = x4 * 1.0;
  nn::SiLU(true)(h4);
  h4.sum().backward();
  Tensor x5 = tensor({-1.5, 0.5, 3.0}, {.requires_grad = true});
  F::silu(x5).sum().backward();
  EXPECT_TRUE(x4.grad().allclose(x5.grad()));
}

TEST(ActivationModule, KinksMatchPyTorch) {
  auto grad_at = [](const char* spec, double v) {
    Tensor x = tensor({v}, {.requires_grad = true});
    (*nn::make_activation(spec))(x).sum().backward();
    return x.grad().item<double>();
  };
  EXPECT_EQ(grad_at("ReLU", 0.0), 0.0);
  EXPECT_FLOAT_EQ(grad_at("LeakyReLU(0.2)", 0.0), 0.2f);
  EXPECT_FLOAT_EQ(grad_at("ELU(alpha=0.7)", 0.0), 0.7f);
  EXPECT_EQ(grad_at("Hardtanh", 1.0), 0.0);
  EXPECT_EQ(grad_at("Hardtanh", -1.0), 0.0);
  EXPECT_EQ(grad_at("ReLU6", 6.0), 0.0);
  EXPECT_EQ(grad_at("Hardswish", 3.0), 1.0);
  EXPECT_EQ(grad_at("Hardswish", -3.0), -0.5);  // PyTorch 1.13.1 (see the table)
  EXPECT_EQ(grad_at("Hardswish", -3.5), 0.0);
  EXPECT_FLOAT_EQ(grad_at("Sigmoid", 0.0), 0.25f);
  Tensor n = tensor({NAN});
  EXPECT_TRUE(std::isnan(F::relu(n).item<double>()));
  EXPECT_EQ(F::softplus(tensor({20.0f})).item<double>(), 20.0);
}

TEST(ActivationModule, StructuredRows) {
  Tensor x = tensor({{1, 2, 3}, {1, 1, 1}});
  Tensor s = F::softmax(x, 1);
  EXPECT_TRUE(s.sum({1}).allclose(ones({2})));
  EXPECT_TRUE(F::log_softmax(x, 1).exp().allclose(s));
  EXPECT_TRUE(F::softmin(x, 1).allclose(F::softmax(-x, 1)));
  EXPECT_EQ(F::softmax2d(zeros({2, 3, 4, 5})).sizes(), (Shape{2, 3, 4, 5}));
  EXPECT_TRUE(contains(error_of([&] { F::softmax2d(zeros({2, 3})); }), "expected input to be 3D or 4D, got 2D"));
  Tensor g = F::glu(tensor({{1, 2, 0, 100}}), -1);
  EXPECT_TRUE(g.allclose(tensor({{0.5, 2.0}})));
  EXPECT_TRUE(contains(error_of([&] { F::glu(zeros({3})); }), "Halving dimension must be even"));
  nn::PReLU prelu({.num_parameters = 2, .init = 0.5});
  Tensor p = prelu(tensor({{-2, -2}, {3, 3}}).view({2, 2}));
  EXPECT_EQ(p.to_vector(), (std::vector<double>{-1, -1, 3, 3}));
  EXPECT_EQ(prelu.parameters().size(), 1u);
  EXPECT_TRUE(contains(error_of([&] { prelu(zeros({2, 3})); }), "Mismatch of parameter numbers and input channel size"));
  nn::RReLU r;
  r.eval();
  EXPECT_FLOAT_EQ(r(tensor({-1.0})).item<float>(), -(1.0f / 8 + 1.0f / 3) / 2);
  r.train();
  manual_seed(3);
  Tensor big = r(full({1000}, -1.0));
  EXPECT_GE(big.max().item<double>(), -1.0 / 3 - 1e-6);
  EXPECT_LE(big.min().item<double>(), -1.0 / 8 + 1e-6);
  EXPECT_GT(big.std().item<double>(), 0.01);
}

// RReLU in training: the gradient is the slope the forward drew (y / x where x < 0, 1 elsewhere); the
// in-place twin draws the same slopes for the same seed; 1 and 2 threads give the same bits.
TEST(ActivationModule, RreluTrainingGradientIsTheDrawnSlope) {
  auto run = [](bool inplace, int threads, std::vector<double>& y, std::vector<double>& g, std::vector<double>& x) {
    set_num_threads(threads);
    manual_seed(11);
    Tensor leaf = randn({50000}).requires_grad_(true);
    Tensor out;
    if (inplace) {
      out = leaf * 1.0;
      F::rrelu_(out, 0.1, 0.3, true);
    } else {
      out = F::rrelu(leaf, 0.1, 0.3, true);
    }
    out.sum().backward();
    y = out.detach().to_vector();
    g = leaf.grad().to_vector();
    x = leaf.detach().to_vector();
  };
  const int saved = get_num_threads();
  std::vector<double> y, g, x, y2, g2, x2;
  run(false, 1, y, g, x);
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] > 0) {
      ASSERT_EQ(y[i], x[i]);
      ASSERT_EQ(g[i], 1.0);
    } else {
      ASSERT_GE(g[i], 0.1 - 1e-7);
      ASSERT_LE(g[i], 0.3 + 1e-7);
      ASSERT_EQ(y[i], static_cast<double>(static_cast<float>(x[i]) * static_cast<float>(g[i])));
    }
  }
  run(false, 2, y2, g2, x2);
  EXPECT_EQ(y, y2);
  EXPECT_EQ(g, g2);
  run(true, 2, y2, g2, x2);
  EXPECT_EQ(y, y2);
  EXPECT_EQ(g, g2);
  set_num_threads(saved);
}

// Finite differences in float64 for every activation, away from kinks.
TEST(ActivationGradcheck, EveryActivation) {
  for (const auto& row : kernels::kActivationTable) {
    std::string spec(row.name);
    if (row.id == ActId::Threshold) spec = "Threshold(0.1, 20.0)";
    if (row.id == ActId::Softmax || row.id == ActId::LogSoftmax || row.id == ActId::Softmin) spec += "(dim=1)";
    SCOPED_TRACE(spec);
    auto module = nn::make_activation(spec);
    module->eval();  // RReLU: deterministic slope
    Shape shape = row.id == ActId::Softmax2d ? Shape{2, 3, 2, 2} : Shape{3, 4};
    Generator gen(42);
    // Values kept away from every kink (0, +-0.5, +-1, +-3, 6, 0.1).
    Tensor x = (rand(shape, {kFloat64}, &gen) * 0.3 + 0.05).detach();
    Tensor sign = (rand(shape, {kFloat64}, &gen) > 0.5).to(kFloat64) * 2.0 - 1.0;
    Tensor offs = randint(0, 4, shape, &gen).to(kFloat64) * 1.1;
    x = ((x + offs) * sign).detach().requires_grad_(true);
    if (row.id == ActId::PReLU) {
      Tensor w64 = module->weight().detach().to(kFloat64);
      w64.requires_grad_(true);
      actlab::testing::expect_gradcheck(
          [](const std::vector<Tensor>& in) { return F::prelu(in[0], in[1]); }, {x, w64});
      continue;
    }
    actlab::testing::expect_gradcheck([&](const std::vector<Tensor>& in) { return (*module)(in[0]); }, {x}, 1e-6, 1e-5);
  }
}

TEST(ActivationModule, Float64AndNonContiguousAndZeroDim) {
  Tensor x = tensor({{-1, 2}, {3, -4}}, {.dtype = kFloat64});
  EXPECT_EQ(F::relu(x.t()).to_vector(), (std::vector<double>{0, 3, 2, 0}));
  EXPECT_EQ(F::relu(scalar_tensor(-3)).dim(), 0);
  EXPECT_EQ(F::relu(zeros({0, 3})).sizes(), (Shape{0, 3}));
  EXPECT_TRUE(contains(error_of([&] { F::relu(arange(3, {.dtype = kInt64})); }), "not implemented for 'Long'"));
}
