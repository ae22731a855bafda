// The activation table: one row per torch.nn activation.
//
// A row holds the module's name, its constructor parameters with PyTorch's names, order and defaults,
// the scalar forward and backward (in double: they are the reference kernels' oracle and the float64
// path), and what backward reads (the input or the output). The spec parser, the registry of modules,
// `actlab eval`, `actlab bench`, the docs table and the tests are all driven from this table.
//
// Kinks follow PyTorch 1.13 exactly and are documented at the row: ReLU'(0) = 0, LeakyReLU'(0) = slope,
// ELU'(0) = alpha, Hardtanh'(min) = Hardtanh'(max) = 0, Hardswish'(3) = 1, Hardswish'(-3) = -0.5 (measured in 1.13.1),
// relu(NaN) = NaN.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

namespace actlab::kernels {

// Every row, in table order. Pointwise rows come first; their SIMD kernels are indexed by this id.
enum class ActId : uint8_t {
  ReLU, LeakyReLU, Sigmoid, Tanh, ELU, SELU, CELU, GELU, SiLU, Mish, Softplus, Softsign, Softshrink,
  Hardshrink, Tanhshrink, Hardtanh, ReLU6, Hardsigmoid, Hardswish, LogSigmoid, Threshold,
  // structured rows (not elementwise-independent, or with tensors as parameters)
  Softmax, LogSoftmax, Softmin, Softmax2d, PReLU, RReLU, GLU,
};
inline constexpr int kNumActivations = 28;
inline constexpr int kNumPointwise = 21;  // ids below this are pointwise

enum class ParamType : uint8_t { Float, Bool, Int, OptionalInt, Choice };
// What the out-of-place backward reads: the input, the output, nothing, or a buffer the recording forward
// writes beside the output (saved_buffer below: Tanhshrink keeps tanh(x), as PyTorch's composite x - tanh(x)
// keeps tanh's output; LogSigmoid keeps its derivative, as PyTorch's log_sigmoid_forward keeps a `buffer`).
// For a Buffer row the scalar backward's `saved_is_output` means "saved is the buffer".
enum class Saves : uint8_t { Input, Output, None, Buffer };
// What the in-place variant's backward reads: the output, or a copy of the input taken before it is
// overwritten (PyTorch's "original_self"), or the forward's buffer (RReLU's noise), or nothing (no in-place
// variant).
enum class InplaceSaves : uint8_t { Output, InputCopy, Buffer, NotSupported };

struct ParamSpec {
  std::string_view name;
  ParamType type = ParamType::Float;
  double default_value = 0.0;          // NaN with OptionalInt means None
  bool required = false;               // Threshold's threshold and value have no defaults
  std::string_view choices = {};       // Choice: values separated by '|'; stored as the index
};

inline constexpr int kMaxParams = 3;
using ParamValues = std::array<double, kMaxParams>;

using ScalarForward = double (*)(double x, const ParamValues& p);
// saved is the input or the output, as `saved_is_output` says; g is the gradient of the output.
using ScalarBackward = double (*)(double g, double saved, bool saved_is_output, const ParamValues& p);

struct ActivationRow {
  std::string_view name;
  ActId id;
  std::array<ParamSpec, kMaxParams> params;
  int num_params;
  Saves saves;                 // what the out-of-place backward reads
  InplaceSaves inplace_saves;  // what the in-place backward reads
  ScalarForward forward;       // nullptr for structured rows
  ScalarBackward backward;     // nullptr for structured rows
  std::string_view formula;    // for docs and --help
};

namespace scalar {
// PyTorch's constants, to full double precision.
inline constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
inline constexpr double kSeluScale = 1.0507009873554804934193349852946;
inline constexpr double kSqrt1_2 = 0.70710678118654752440084436210484903;
inline constexpr double kInvSqrt2Pi = 0.39894228040143267793994605993438;
inline constexpr double kGeluBeta = 0.79788456080286535587989211986876;  // sqrt(2/pi)
inline constexpr double kGeluKappa = 0.044715;

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// ELU family: elu(x; alpha, scale, input_scale) as in ATen, used by ELU, SELU and CELU.
inline double elu_f(double x, double alpha, double scale, double input_scale) {
  return x <= 0 ? std::expm1(x * input_scale) * alpha * scale : x * scale;
}
// The positive branch only for s > 0, so that NaN takes the negative branch and stays NaN, as in ATen.
inline double elu_b(double g, double s, bool is_result, double alpha, double scale, double input_scale) {
  if (is_result) return s > 0 ? g * scale : g * input_scale * (s + alpha * scale);
  return s > 0 ? g * scale : g * input_scale * alpha * scale * std::exp(s * input_scale);
}
// tanh-GELU without cancellation for negative x: 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)).
inline double gelu_tanh_f(double x) {
  double u = kGeluBeta * (x + kGeluKappa * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}
inline double gelu_tanh_b(double g, double x) {
  double x2 = x * x;
  double u = kGeluBeta * (x + kGeluKappa * x2 * x);
  double half_1_plus_t = 1.0 / (1.0 + std::exp(-2.0 * u));  // 0.5 (1 + tanh(u))
  double c = std::cosh(u);
  double sech2 = std::isinf(c) ? 0.0 : 1.0 / (c * c);         // 1 - tanh(u)^2
  double right_d = 0.5 * x * sech2 * kGeluBeta * (1.0 + 3.0 * kGeluKappa * x2);
  return g * (half_1_plus_t + right_d);
}
// Exact GELU with erfc, which keeps the tiny values of x * Phi(x) for negative x that 1 + erf(x) loses.
inline double gelu_f(double x) { return x * 0.5 * std::erfc(-x * kSqrt1_2); }
inline double gelu_b(double g, double x) {
  double cdf = 0.5 * std::erfc(-x * kSqrt1_2);
  double pdf = std::exp(-0.5 * x * x) * kInvSqrt2Pi;
  return g * (cdf + x * pdf);
}
}  // namespace scalar

// clang-format off
inline constexpr std::array<ActivationRow, kNumActivations> kActivationTable = {{
  // ReLU'(0) = 0; relu(NaN) = NaN and relu(-0.0) = -0.0 (clamp_min keeps x unless x < 0); ReLU'(NaN) = g.
  // Backward reads the output (threshold_backward(grad, result, 0)).
  {"ReLU", ActId::ReLU, {{{"inplace", ParamType::Bool}}}, 1, Saves::Output, InplaceSaves::Output,
   [](double x, const ParamValues&) { return x < 0 ? 0.0 : x; },
   [](double g, double s, bool, const ParamValues&) { return s <= 0 ? 0.0 : g; },
   "max(0, x)"},
  // LeakyReLU'(0) = negative_slope. In-place backward reads the output and needs slope >= 0.
  {"LeakyReLU", ActId::LeakyReLU, {{{"negative_slope", ParamType::Float, 0.01}, {"inplace", ParamType::Bool}}}, 2,
   Saves::Input, InplaceSaves::Output,
   [](double x, const ParamValues& p) { return x > 0 ? x : x * p[0]; },
   [](double g, double s, bool, const ParamValues& p) { return s > 0 ? g : g * p[0]; },
   "x if x > 0 else negative_slope * x"},
  {"Sigmoid", ActId::Sigmoid, {}, 0, Saves::Output, InplaceSaves::Output,
   [](double x, const ParamValues&) { return scalar::sigmoid(x); },
   [](double g, double y, bool, const ParamValues&) { return (g * (1.0 - y)) * y; },
   "1 / (1 + exp(-x))"},
  {"Tanh", ActId::Tanh, {}, 0, Saves::Output, InplaceSaves::Output,
   [](double x, const ParamValues&) { return std::tanh(x); },
   [](double g, double y, bool, const ParamValues&) { return g * std::fma(-y, y, 1.0); },
   "tanh(x)"},
  // ELU'(0) = alpha (the x <= 0 branch). In-place backward reads the output and needs alpha >= 0.
  {"ELU", ActId::ELU, {{{"alpha", ParamType::Float, 1.0}, {"inplace", ParamType::Bool}}}, 2,
   Saves::Input, InplaceSaves::Output,
   [](double x, const ParamValues& p) { return scalar::elu_f(x, p[0], 1.0, 1.0); },
   [](double g, double s, bool r, const ParamValues& p) { return scalar::elu_b(g, s, r, p[0], 1.0, 1.0); },
   "x if x > 0 else alpha * (exp(x) - 1)"},
  {"SELU", ActId::SELU, {{{"inplace", ParamType::Bool}}}, 1, Saves::Input, InplaceSaves::Output,
   [](double x, const ParamValues&) { return scalar::elu_f(x, scalar::kSeluAlpha, scalar::kSeluScale, 1.0); },
   [](double g, double s, bool r, const ParamValues&) {
     return scalar::elu_b(g, s, r, scalar::kSeluAlpha, scalar::kSeluScale, 1.0); },
   "scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha = 1.6733, scale = 1.0507"},
  {"CELU", ActId::CELU, {{{"alpha", ParamType::Float, 1.0}, {"inplace", ParamType::Bool}}}, 2,
   Saves::Input, InplaceSaves::Output,
   [](double x, const ParamValues& p) { return scalar::elu_f(x, p[0], 1.0, 1.0 / p[0]); },
   [](double g, double s, bool r, const ParamValues& p) { return scalar::elu_b(g, s, r, p[0], 1.0, 1.0 / p[0]); },
   "max(0, x) + min(0, alpha * (exp(x / alpha) - 1))"},
  // approximate: 0 = 'none' (erf), 1 = 'tanh'.
  {"GELU", ActId::GELU, {{{"approximate", ParamType::Choice, 0.0, false, "none|tanh"}}}, 1,
   Saves::Input, InplaceSaves::NotSupported,
   [](double x, const ParamValues& p) { return p[0] != 0 ? scalar::gelu_tanh_f(x) : scalar::gelu_f(x); },
   [](double g, double x, bool, const ParamValues& p) {
     return p[0] != 0 ? scalar::gelu_tanh_b(g, x) : scalar::gelu_b(g, x); },
   "x * Phi(x)  (approximate='tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))))"},
  {"SiLU", ActId::SiLU, {{{"inplace", ParamType::Bool}}}, 1, Saves::Input, InplaceSaves::InputCopy,
   [](double x, const ParamValues&) { return x * scalar::sigmoid(x); },
   [](double g, double x, bool, const ParamValues&) {
     double s = scalar::sigmoid(x); return g * s * (1.0 + x * (1.0 - s)); },
   "x * sigmoid(x)"},
  {"Mish", ActId::Mish, {{{"inplace", ParamType::Bool}}}, 1, Saves::Input, InplaceSaves::InputCopy,
   [](double x, const ParamValues&) { return x * std::tanh(std::log1p(std::exp(x))); },
   [](double g, double x, bool, const ParamValues&) {
     double t = std::tanh(std::log1p(std::exp(x)));
     return g * (t + x * scalar::sigmoid(x) * (1.0 - t * t)); },
   "x * tanh(softplus(x))"},
  // Linear above the threshold, tested on beta * x as PyTorch does.
  {"Softplus", ActId::Softplus, {{{"beta", ParamType::Float, 1.0}, {"threshold", ParamType::Float, 20.0}}}, 2,
   Saves::Input, InplaceSaves::NotSupported,
   [](double x, const ParamValues& p) { return x * p[0] > p[1] ? x : std::log1p(std::exp(x * p[0])) / p[0]; },
   [](double g, double x, bool, const ParamValues& p) {
     if (x * p[0] > p[1]) return g;
     double z = std::exp(x * p[0]); return g * z / (z + 1.0); },
   "log(1 + exp(beta * x)) / beta; x where beta * x > threshold"},
  // PyTorch composes x / (1 + |x|); its gradient is the composite's, so softsign(inf) is NaN as there.
  {"Softsign", ActId::Softsign, {}, 0, Saves::Input, InplaceSaves::NotSupported,
   [](double x, const ParamValues&) { return x / (1.0 + std::fabs(x)); },
   [](double g, double x, bool, const ParamValues&) {
     double b = 1.0 + std::fabs(x);
     double sgn = x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
     return g / b + (-g * ((x / b) / b)) * sgn; },
   "x / (1 + |x|)"},
  {"Softshrink", ActId::Softshrink, {{{"lambd", ParamType::Float, 0.5}}}, 1, Saves::Input, InplaceSaves::NotSupported,
   [](double x, const ParamValues& p) { return x > p[0] ? x - p[0] : (x < -p[0] ? x + p[0] : 0.0); },
   [](double g, double x, bool, const ParamValues& p) { return (x < -p[0] || x > p[0]) ? g : 0.0; },
   "x - lambd if x > lambd, x + lambd if x < -lambd, else 0"},
  {"Hardshrink", ActId::Hardshrink, {{{"lambd", ParamType::Float, 0.5}}}, 1, Saves::Input, InplaceSaves::NotSupported,
   [](double x, const ParamValues& p) { return (x >= -p[0] && x <= p[0]) ? 0.0 : x; },
   [](double g, double x, bool, const ParamValues& p) { return (x < -p[0] || x > p[0]) ? g : 0.0; },
   "x if |x| > lambd else 0"},
  // PyTorch composes x - tanh(x); its gradient g - g (1 - tanh(x)^2) is g tanh(x)^2. Near 0 the series
  // x^3/3 - 2x^5/15 + 17x^7/315 replaces the difference, which cancels to 0 in double below |x| ~ 1e-8.
  {"Tanhshrink", ActId::Tanhshrink, {}, 0, Saves::Buffer, InplaceSaves::NotSupported,
   [](double x, const ParamValues&) {
     if (std::fabs(x) < 1e-3) {
       double x2 = x * x;
       return x * x2 * (1.0 / 3.0 + x2 * (-2.0 / 15.0 + x2 * (17.0 / 315.0)));
     }
     return x - std::tanh(x); },
   [](double g, double s, bool from_tanh, const ParamValues&) {
     const double t = from_tanh ? s : std::tanh(s);
     return g * t * t;
   },
   "x - tanh(x)"},
  // Hardtanh' = 0 at and beyond both bounds and at NaN; in-place backward reads the (clamped) output.
  {"Hardtanh", ActId::Hardtanh,
   {{{"min_val", ParamType::Float, -1.0}, {"max_val", ParamType::Float, 1.0}, {"inplace", ParamType::Bool}}}, 3,
   Saves::Input, InplaceSaves::Output,
   [](double x, const ParamValues& p) { return std::isnan(x) ? x : (x < p[0] ? p[0] : (x > p[1] ? p[1] : x)); },
   [](double g, double s, bool, const ParamValues& p) { return (s > p[0] && s < p[1]) ? g : 0.0; },
   "min(max(x, min_val), max_val)"},
  {"ReLU6", ActId::ReLU6, {{{"inplace", ParamType::Bool}}}, 1, Saves::Input, InplaceSaves::Output,
   [](double x, const ParamValues&) { return std::isnan(x) ? x : (x < 0 ? 0.0 : (x > 6 ? 6.0 : x)); },
   [](double g, double s, bool, const ParamValues&) { return (s > 0 && s < 6) ? g : 0.0; },
   "min(max(x, 0), 6)"},
  {"Hardsigmoid", ActId::Hardsigmoid, {{{"inplace", ParamType::Bool}}}, 1, Saves::Input, InplaceSaves::InputCopy,
   [](double x, const ParamValues&) {
     if (std::isnan(x)) return x;
     return std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0; },
   [](double g, double x, bool, const ParamValues&) { return (x > -3.0 && x < 3.0) ? g / 6.0 : 0.0; },
   "min(max(x + 3, 0), 6) / 6"},
  // Hardswish'(3) = 1 and, as measured in PyTorch 1.13.1, Hardswish'(-3) = -0.5 (x < -3 gives 0, x >= 3 gives g).
  {"Hardswish", ActId::Hardswish, {{{"inplace", ParamType::Bool}}}, 1, Saves::Input, InplaceSaves::InputCopy,
   [](double x, const ParamValues&) {
     if (std::isnan(x)) return x;
     return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0; },
   [](double g, double x, bool, const ParamValues&) {
     if (x < -3.0) return 0.0;
     if (x < 3.0) return g * (x / 3.0 + 0.5);
     if (x >= 3.0) return g;
     return x; },  // NaN
   "x * min(max(x + 3, 0), 6) / 6"},
  {"LogSigmoid", ActId::LogSigmoid, {}, 0, Saves::Buffer, InplaceSaves::NotSupported,
   [](double x, const ParamValues&) { return std::min(x, 0.0) - std::log1p(std::exp(-std::fabs(x))); },
   [](double g, double x, bool from_buffer, const ParamValues&) {
     if (from_buffer) return g * x;  // the buffer is sigmoid(-x), the derivative
     bool neg = x < 0;
     double z = std::exp(-std::fabs(x));
     return g * ((neg ? 1.0 : 0.0) - (neg ? 1.0 : -1.0) * (z / (1.0 + z))); },
   "log(sigmoid(x))"},
  {"Threshold", ActId::Threshold,
   {{{"threshold", ParamType::Float, 0.0, true}, {"value", ParamType::Float, 0.0, true}, {"inplace", ParamType::Bool}}}, 3,
   Saves::Input, InplaceSaves::InputCopy,
   [](double x, const ParamValues& p) { return x <= p[0] ? p[1] : x; },
   [](double g, double x, bool, const ParamValues& p) { return x <= p[0] ? 0.0 : g; },
   "x if x > threshold else value"},
  // ---- structured rows -------------------------------------------------------------------------------
  {"Softmax", ActId::Softmax, {{{"dim", ParamType::OptionalInt, std::numeric_limits<double>::quiet_NaN()}}}, 1,
   Saves::Output, InplaceSaves::NotSupported, nullptr, nullptr, "exp(x_i) / sum_j exp(x_j) along dim"},
  {"LogSoftmax", ActId::LogSoftmax, {{{"dim", ParamType::OptionalInt, std::numeric_limits<double>::quiet_NaN()}}}, 1,
   Saves::Output, InplaceSaves::NotSupported, nullptr, nullptr, "x_i - log(sum_j exp(x_j)) along dim"},
  {"Softmin", ActId::Softmin, {{{"dim", ParamType::OptionalInt, std::numeric_limits<double>::quiet_NaN()}}}, 1,
   Saves::Output, InplaceSaves::NotSupported, nullptr, nullptr, "softmax(-x) along dim"},
  {"Softmax2d", ActId::Softmax2d, {}, 0, Saves::Output, InplaceSaves::NotSupported, nullptr, nullptr,
   "softmax over channels (dim -3) of a (C, H, W) or (N, C, H, W) input"},
  {"PReLU", ActId::PReLU, {{{"num_parameters", ParamType::Int, 1.0}, {"init", ParamType::Float, 0.25}}}, 2,
   Saves::Input, InplaceSaves::NotSupported, nullptr, nullptr, "x if x > 0 else a * x, a learnable per channel (PReLU'(0) = a)"},
  {"RReLU", ActId::RReLU,
   {{{"lower", ParamType::Float, 1.0 / 8.0}, {"upper", ParamType::Float, 1.0 / 3.0}, {"inplace", ParamType::Bool}}}, 3,
   Saves::Buffer, InplaceSaves::Buffer, nullptr, nullptr,
   "x if x > 0 else a * x, a ~ U(lower, upper) in training, (lower + upper) / 2 in eval"},
  {"GLU", ActId::GLU, {{{"dim", ParamType::Int, -1.0}}}, 1, Saves::Input, InplaceSaves::NotSupported, nullptr, nullptr,
   "a * sigmoid(b), where a and b are the two halves of the input along dim"},
}};
// clang-format on

constexpr const ActivationRow& activation_row(ActId id) { return kActivationTable[static_cast<int>(id)]; }

// The buffer a pointwise Saves::Buffer row's recording forward keeps beside its output, from the input x, and
// its name. LogSigmoid's is its derivative sigmoid(-x) (PyTorch keeps exp(-|x|) and the input; one tensor
// holding the derivative makes the backward a product, memory-bound). RReLU (structured) keeps its noise
// dy/dx in training, as PyTorch's rrelu_with_noise; in eval it is LeakyReLU with the mean slope.
inline double saved_buffer(ActId id, double x) {
  if (id == ActId::Tanhshrink) return std::tanh(x);
  if (id == ActId::LogSigmoid) {
    const double z = std::exp(-std::fabs(x));
    return (x < 0 ? 1.0 : z) / (1.0 + z);
  }
  return x;
}
// Whether the node also keeps the input, for PyTorch's version check only: LogSigmoid (PyTorch saves self beside
// its buffer); Tanhshrink's composite keeps only tanh's output.
inline bool buffer_guards_input(ActId id) { return id == ActId::LogSigmoid; }
inline std::string_view saved_buffer_name(ActId id) {
  switch (id) {
    case ActId::Tanhshrink: return "tanh(input)";
    case ActId::LogSigmoid: return "sigmoid(-input)";
    case ActId::RReLU: return "noise dy/dx (training; eval: as LeakyReLU)";
    default: return "input";
  }
}
constexpr bool is_pointwise(ActId id) { return static_cast<int>(id) < kNumPointwise; }

// The table is in enum order: a row's position is its id. (That exactly the pointwise rows have scalar
// functions is checked by a test: GCC's sanitizers make comparing those pointers non-constant.)
consteval bool table_in_enum_order() {
  for (int i = 0; i < kNumActivations; ++i)
    if (static_cast<int>(kActivationTable[i].id) != i) return false;
  return true;
}
static_assert(table_in_enum_order(), "kActivationTable rows must follow ActId order");

}  // namespace actlab::kernels
