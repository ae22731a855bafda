// Every activation against PyTorch 1.13.1 (tests/golden/activations, made by tools/gen_golden.py):
// forward and backward in float32 must be within 4 ulp of the exact (float64) result, or no worse than
// PyTorch's own float32 result where PyTorch is less accurate.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "actlab/actlab.h"
#include "actlab/core/npy.h"
#include "actlab/nn/activation.h"
#include "actlab/nn/functional.h"
#include "kernels/activation_kernels.h"

using namespace actlab;
using json = nlohmann::json;
using kernels::ActId;

namespace {

std::string golden_dir() { return std::string(ACTLAB_GOLDEN_DIR) + "/activations/"; }

json manifest() {
  std::ifstream f(golden_dir() + "manifest.json");
  return json::parse(f);
}

Tensor load(const json& c, const std::string& key) {
  NpyArray a = read_npy(golden_dir() + c["files"][key]["file"].get<std::string>());
  Dtype d = a.dtype == NpyDtype::Float32 ? kFloat32 : kFloat64;
  Tensor t = empty(Shape(a.shape.begin(), a.shape.end()), {d});
  std::memcpy(t.raw_data(), a.data.data(), a.data.size());
  return t;
}

double ulp_of(float v) {
  float a = std::fabs(v);
  if (std::isinf(a)) return INFINITY;
  return static_cast<double>(std::nextafter(a, INFINITY)) - static_cast<double>(a);
}

// ours within max(4 ulp of exact, |torch - exact|) of exact, or equal to torch (NaN, inf, same value).
// `scale` (optional) is the size of the terms an op's formula cancels where its result crosses zero
// (e.g. SiLU' = s (1 + x (1 - s)) near x = -2.4); there no float32 evaluation is within 4 ulp of the
// result, PyTorch's included, so 2 ulp of that scale is allowed too.
void expect_close(const Tensor& ours, const Tensor& torch32, const Tensor& exact, const std::string& what,
                  double slack_ulps = 4, const Tensor& scale = Tensor()) {
  ASSERT_EQ(ours.sizes(), torch32.sizes()) << what;
  std::vector<double> o = ours.to_vector(), t = torch32.to_vector(), e = exact.to_vector();
  std::vector<double> sc = scale.defined() ? scale.to_vector() : std::vector<double>(o.size(), 0.0);
  int failures = 0;
  for (size_t i = 0; i < o.size() && failures < 5; ++i) {
    if (o[i] == t[i] || (std::isnan(o[i]) && std::isnan(t[i]))) continue;
    double err = std::fabs(o[i] - e[i]);
    double allowed = std::max({slack_ulps * ulp_of(static_cast<float>(e[i])), std::fabs(t[i] - e[i]),
                               2 * ulp_of(static_cast<float>(sc[i]))});
    if (std::isnan(o[i]) || std::isnan(e[i]) || !(err <= allowed)) {
      ++failures;
      ADD_FAILURE() << what << " element " << i << ": ours " << o[i] << ", PyTorch float32 " << t[i]
                    << ", exact " << e[i] << " (allowed error " << allowed << ")";
    }
  }
}

struct CaseResult {
  Tensor y, gx, gw;
};

CaseResult run_case(const json& c, const Tensor& x32) {
  auto module = nn::make_activation(c["spec"].get<std::string>());
  if (c.value("mode", "train") == "eval") module->eval();
  if (c.contains("files") && c["files"].contains("w")) {
    Tensor w = load(c, "w");
    NoGradGuard ng;
    module->weight().copy_(w);
  }
  Tensor x = x32.clone().detach().requires_grad_(true);
  Tensor input = c.value("inplace", false) ? x * 1.0 : x;  // in-place runs on a non-leaf, as in PyTorch
  Tensor y = (*module)(input);
  Tensor gy = load(c, "gy");
  y.backward(gy);
  CaseResult r{y.detach(), x.grad(), Tensor()};
  if (module->weight().defined()) r.gw = module->weight().grad();
  return r;
}

// The table's double-precision definition evaluated on the float32 inputs: forward on x, backward on x or,
// where the op saves its output (as PyTorch does), on our own float32 output.
struct Exact {
  Tensor y, gx;
};
Exact exact_from_table(const nn::ActivationSpec& spec, bool inplace, const Tensor& x, const Tensor& gy,
                       const Tensor& our_y) {
  const auto& row = spec.row();
  bool from_output = inplace ? row.inplace_saves == kernels::InplaceSaves::Output : row.saves == kernels::Saves::Output;
  std::vector<double> xv = x.to_vector(), gv = gy.to_vector(), yv = our_y.to_vector(), ye(xv.size()), ge(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    ye[i] = row.forward(xv[i], spec.values);
    ge[i] = row.backward(gv[i], from_output ? yv[i] : xv[i], from_output, spec.values);
  }
  return {from_data(ye, x.sizes(), {kFloat64}), from_data(ge, x.sizes(), {kFloat64})};
}

// GLU in double: y = a sigmoid(b), da = g sigmoid(b), db = g a sigmoid(b) sigmoid(-b).
Exact exact_glu(const Tensor& x, const Tensor& gy, int64_t dim) {
  int64_t d = maybe_wrap_dim(dim, x.dim());
  Tensor xd = x.to(kFloat64), gd = gy.to(kFloat64);
  Tensor a = xd.chunk_half(d, 0), b = xd.chunk_half(d, 1);
  Tensor sb = 1.0 / (1.0 + exp(-b)), sn = 1.0 / (1.0 + exp(b));
  Tensor y = a * sb;
  Tensor gx = cat({gd * sb, gd * a * sb * sn}, d);
  return {y, gx};
}

// The table's double definition agrees with PyTorch's float64 result (the semantics: branches, kinks,
// NaN and inf handling). The tolerance absorbs PyTorch's own float64 rounding: float constants (Hardsigmoid'
// is g * (float)(1/6) even in float64) and cancellation (GELU, Softsign and Tanhshrink at large |x|).
void expect_same_semantics(const Tensor& table, const Tensor& torch64, const std::string& what) {
  std::vector<double> a = table.to_vector(), b = torch64.to_vector();
  int failures = 0;
  for (size_t i = 0; i < a.size() && failures < 5; ++i) {
    if (a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) continue;
    if (std::isfinite(a[i]) && std::isfinite(b[i]) && std::fabs(a[i] - b[i]) <= 1e-12 + 1e-6 * std::fabs(b[i])) continue;
    ++failures;
    ADD_FAILURE() << what << " element " << i << ": table " << a[i] << ", PyTorch float64 " << b[i];
  }
}

class GoldenActivation : public ::testing::TestWithParam<bool> {};

}  // namespace

TEST_P(GoldenActivation, MatchesPyTorch) {
  kernels::set_reference_kernels(GetParam());
  json m = manifest();
  ASSERT_GE(m["cases"].size(), 40u);
  for (const json& c : m["cases"]) {
    bool inplace = c.value("inplace", false);
    SCOPED_TRACE(c["spec"].get<std::string>() + (inplace ? " (in place)" : ""));
    Tensor x = load(c, "x"), gy = load(c, "gy");
    CaseResult r = run_case(c, x);
    nn::ActivationSpec spec = nn::parse_activation_spec(c["spec"].get<std::string>());
    if (kernels::is_pointwise(spec.id)) {
      Exact e = exact_from_table(spec, inplace, x, gy, r.y);
      // Ops whose formulas cancel where the result crosses zero: the scale of the cancelling terms.
      Tensor fscale, bscale;
      switch (spec.id) {
        case ActId::GELU:
          if (spec.values[0] != 0) fscale = abs(x);
          bscale = abs(gy);
          break;
        case ActId::SiLU:
        case ActId::Mish:
          bscale = abs(gy);
          break;
        default: break;
      }
      expect_close(r.y, load(c, "y"), e.y, "forward", 4, fscale);
      expect_close(r.gx, load(c, "gx"), e.gx, "input gradient", 4, bscale);
    } else if (spec.id == ActId::GLU) {
      // PyTorch's float64 GLU gradient computes 1 - sigmoid(b), which is 0 in double for b > 37.4; the
      // exact value a * sigmoid(b) * sigmoid(-b) is computed here instead.
      Exact e = exact_glu(x, gy, static_cast<int64_t>(spec.values[0]));
      expect_close(r.y, load(c, "y"), e.y, "forward");
      expect_close(r.gx, load(c, "gx"), e.gx, "input gradient", 8);
    } else {
      // Softmax' = y (g - sum(g y)) cancels where g is close to the sum; the terms' scale there is
      // |y| (|g| + |sum(g y)|). (Where one y is 1 to float precision, float64 also rounds the other terms
      // away and gives 0; the true gradient, as ours, is a tiny nonzero value.)
      Tensor bscale;
      if (spec.id == ActId::Softmax || spec.id == ActId::Softmin || spec.id == ActId::Softmax2d) {
        const int64_t dim = spec.id == ActId::Softmax2d ? -3 : static_cast<int64_t>(spec.values[0]);
        Tensor yd = r.y.to(kFloat64), gd = gy.to(kFloat64);
        bscale = abs(yd) * (abs(gd) + abs(sum(gd * yd, {dim}, true)));
      }
      expect_close(r.y, load(c, "y"), load(c, "y64"), "forward");
      expect_close(r.gx, load(c, "gx"), load(c, "gx64"), "input gradient", 8, bscale);
    }
    if (c["files"].contains("gw")) expect_close(r.gw, load(c, "gw"), load(c, "gw64"), "weight gradient", 64);
  }
  kernels::set_reference_kernels(false);
}

TEST(GoldenActivation, TableHasPyTorchSemantics) {
  json m = manifest();
  for (const json& c : m["cases"]) {
    nn::ActivationSpec spec = nn::parse_activation_spec(c["spec"].get<std::string>());
    if (!kernels::is_pointwise(spec.id)) continue;
    bool inplace = c.value("inplace", false);
    SCOPED_TRACE(c["spec"].get<std::string>() + (inplace ? " (in place)" : ""));
    Tensor x = load(c, "x"), y64 = load(c, "y64");
    Exact e = exact_from_table(spec, inplace, x, load(c, "gy"), y64);
    expect_same_semantics(e.y, y64, "forward");
    expect_same_semantics(e.gx, load(c, "gx64"), "input gradient");
  }
}

INSTANTIATE_TEST_SUITE_P(SimdAndReference, GoldenActivation, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Reference" : "Simd"; });

TEST(GoldenActivation, ErrorMessagesMatchPyTorch) {
  json m = manifest();
  std::map<std::string, std::string> msg;
  for (const json& e : m["errors"]) msg[e["name"]] = e["message"];
  auto message_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  Tensor x = tensor({-1.0, 0.5, 2.0}, {.requires_grad = true});
  EXPECT_EQ(message_of([&] { nn::ReLU(true)(x); }), msg["leaf_inplace"]);
  EXPECT_EQ(message_of([&] {
              Tensor y = nn::ELU({.alpha = -0.5, .inplace = true})(x.clone());
              y.sum().backward();
            }),
            msg["elu_inplace_negative_alpha"]);
  EXPECT_EQ(message_of([&] {
              Tensor y = nn::LeakyReLU({.negative_slope = -0.5, .inplace = true})(x.clone());
              y.sum().backward();
            }),
            msg["leaky_relu_inplace_negative_slope"]);
  EXPECT_EQ(message_of([&] {
              Tensor y = nn::functional::sigmoid(x);
              y.mul_(2.0);
              y.sum().backward();
            }),
            msg["version_counter"]);
  EXPECT_EQ(message_of([&] {
              Tensor y = nn::functional::sigmoid(x);
              Tensor z = nn::ReLU(true)(y);
              z.sum().backward();
            }),
            msg["relu_inplace_after_sigmoid"]);
  EXPECT_EQ(message_of([&] {
              Tensor x2 = ones({2, 3}, {.requires_grad = true});
              Tensor y = nn::functional::tanh(x2);
              y.add_(1.0);
              y.add_(1.0);
              y.sum().backward();
            }),
            msg["version_counter_2d_twice"]);
  // LogSigmoid's backward reads its buffer, but the node keeps the input as PyTorch does, for this check.
  EXPECT_EQ(message_of([&] {
              Tensor a = x * full_like(x, 2.0);  // PyTorch's Python x * 2 wraps the 2 in a tensor: MulBackward0
              Tensor y = nn::functional::logsigmoid(a);
              a.mul_(2.0);
              y.sum().backward();
            }),
            msg["logsigmoid_input_modified"]);
  // RReLU's backward reads its noise; the node keeps the input as PyTorch does, for this check.
  EXPECT_EQ(message_of([&] {
              Tensor a = x * full_like(x, 2.0);
              Tensor y = nn::functional::rrelu(a, 1.0 / 8, 1.0 / 3, /*training=*/true);
              EXPECT_EQ(y.grad_fn()->name(), "RreluWithNoiseBackward0");
              a.mul_(2.0);
              y.sum().backward();
            }),
            msg["rrelu_input_modified"]);
  {
    Tensor a = x * 2.0;
    nn::functional::rrelu_(a, 1.0 / 8, 1.0 / 3, /*training=*/true);
    EXPECT_EQ(a.grad_fn()->name(), "RreluWithNoiseBackward1");  // PyTorch's in-place node
  }
  // Tanhshrink keeps only tanh(input) (PyTorch's composite x - tanh(x)): changing the input later is allowed.
  EXPECT_EQ(message_of([&] {
              Tensor a = x * 2.0;
              Tensor y = nn::functional::tanhshrink(a);
              a.mul_(2.0);
              y.sum().backward();
            }),
            "(no error)");
}
