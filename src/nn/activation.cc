// Activation modules and the spec parser, both driven by the activation table.
#include "actlab/nn/activation.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include "actlab/nn/functional.h"
#include "actlab/ops/ops.h"

namespace actlab::nn {

using kernels::ActId;
using kernels::ActivationRow;
using kernels::kActivationTable;
using kernels::ParamSpec;
using kernels::ParamType;

namespace F = functional;

// ---- the spec ----------------------------------------------------------------------------------------------
namespace {

int param_index(const ActivationRow& row, std::string_view name) {
  for (int i = 0; i < row.num_params; ++i)
    if (row.params[i].name == name) return i;
  return -1;
}

std::string param_list(const ActivationRow& row) {
  std::string s;
  for (int i = 0; i < row.num_params; ++i) s += (i ? ", " : "") + std::string(row.params[i].name);
  return s.empty() ? "none" : s;
}

std::string choice_at(std::string_view choices, int index) {
  int k = 0;
  size_t start = 0;
  while (true) {
    size_t bar = choices.find('|', start);
    if (k == index) return std::string(choices.substr(start, bar == std::string_view::npos ? bar : bar - start));
    if (bar == std::string_view::npos) return "";
    start = bar + 1;
    ++k;
  }
}

int choice_index(std::string_view choices, std::string_view value) {
  for (int k = 0;; ++k) {
    std::string c = choice_at(choices, k);
    if (c.empty()) return -1;
    if (c == value) return k;
  }
}

std::string format_value(const ParamSpec& ps, double v) {
  switch (ps.type) {
    case ParamType::Bool: return v != 0 ? "True" : "False";
    case ParamType::Int: return std::to_string(static_cast<int64_t>(v));
    case ParamType::OptionalInt: return std::isnan(v) ? "None" : std::to_string(static_cast<int64_t>(v));
    case ParamType::Choice: return "'" + choice_at(ps.choices, static_cast<int>(v)) + "'";
    case ParamType::Float: return format_float(v);
  }
  return "";
}

// Value checks that PyTorch makes in the constructors or the ops.
void validate(const ActivationSpec& s) {
  const ActivationRow& row = s.row();
  for (int i = 0; i < row.num_params; ++i)
    if (row.params[i].type == ParamType::Float && std::isnan(s.values[i]))
      throw ValueError(detail::concat(row.name, ": ", row.params[i].name, " must be a number, not nan"));
  switch (s.id) {
    case ActId::CELU:
      if (s.values[0] == 0) throw ValueError("CELU: alpha cannot be 0 (PyTorch: ZeroDivisionError)");
      break;
    case ActId::Hardtanh:
      if (!(s.values[1] > s.values[0]))
        throw ValueError(detail::concat("Hardtanh: max_val (", format_float(s.values[1]),
                                        ") must be greater than min_val (", format_float(s.values[0]), ")"));
      break;
    case ActId::Softshrink:
      if (s.values[0] < 0)
        throw ValueError(detail::concat("Softshrink: lambd must be greater or equal to 0, got ", format_float(s.values[0])));
      break;
    case ActId::RReLU:
      if (s.values[0] > s.values[1])
        throw ValueError(detail::concat("RReLU: lower (", format_float(s.values[0]),
                                        ") must be less than or equal to upper (", format_float(s.values[1]), ")"));
      break;
    case ActId::PReLU:
      if (s.values[0] < 1)
        throw ValueError(detail::concat("PReLU: num_parameters must be at least 1, got ",
                                        static_cast<int64_t>(s.values[0])));
      break;
    default: break;
  }
}

// A tiny tokenizer for Python call syntax.
struct Cursor {
  std::string_view text;
  size_t pos = 0;
  void skip_ws() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  }
  bool eat(char c) {
    skip_ws();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  bool at_end() {
    skip_ws();
    return pos >= text.size();
  }
  std::string_view ident() {
    skip_ws();
    size_t start = pos;
    while (pos < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[pos])) || text[pos] == '_' || text[pos] == '.'))
      ++pos;
    return text.substr(start, pos - start);
  }
  // A raw value token: a quoted string (kept with its quotes) or everything up to ',' or ')'.
  std::string_view value() {
    skip_ws();
    size_t start = pos;
    if (pos < text.size() && (text[pos] == '\'' || text[pos] == '"')) {
      char q = text[pos++];
      while (pos < text.size() && text[pos] != q) ++pos;
      if (pos < text.size()) ++pos;
      return text.substr(start, pos - start);
    }
    while (pos < text.size() && text[pos] != ',' && text[pos] != ')' && text[pos] != '=') ++pos;
    std::string_view v = text.substr(start, pos - start);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    return v;
  }
};

bool parse_number(std::string_view v, double& out, bool& is_integer) {
  std::string s(v);
  if (s.empty()) return false;
  is_integer = s.find_first_of(".eEn") == std::string::npos;
  const char* b = s.c_str();
  const char* e = b + s.size();
  if (*b == '+') ++b;
  auto r = std::from_chars(b, e, out);
  if (r.ec != std::errc() || r.ptr != e) return false;
  return std::isfinite(out);
}

double parse_value(const ActivationRow& row, const ParamSpec& ps, std::string_view raw) {
  std::string where = detail::concat(row.name, ": ", ps.name);
  double num = 0;
  bool is_int = false;
  switch (ps.type) {
    case ParamType::Bool:
      if (raw == "True" || raw == "true") return 1.0;
      if (raw == "False" || raw == "false") return 0.0;
      throw ValueError(detail::concat(where, " must be True or False, got '", raw, "'"));
    case ParamType::Float:
      if (!parse_number(raw, num, is_int))
        throw ValueError(detail::concat(where, " must be a finite number, got '", raw, "'"));
      return num;
    case ParamType::Int:
    case ParamType::OptionalInt:
      if (ps.type == ParamType::OptionalInt && raw == "None") return std::nan("");
      if (!parse_number(raw, num, is_int) || !is_int)
        throw ValueError(detail::concat(where, " must be an integer", ps.type == ParamType::OptionalInt ? " or None" : "",
                                        ", got '", raw, "'"));
      // Converting a double beyond int64 is undefined behaviour (found by fuzz_spec: Softmax(-1222...2)).
      if (!(num >= -9223372036854775808.0 && num < 9223372036854775808.0))
        throw ValueError(detail::concat(where, " is out of range for a 64-bit integer, got '", raw, "'"));
      return num;
    case ParamType::Choice: {
      std::string_view v = raw;
      if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
        v = v.substr(1, v.size() - 2);
      int k = choice_index(ps.choices, v);
      if (k < 0) {
        std::string valid;
        for (int i = 0; !choice_at(ps.choices, i).empty(); ++i) valid += (i ? ", '" : "'") + choice_at(ps.choices, i) + "'";
        throw ValueError(detail::concat(where, " must be one of ", valid, "; got ", raw));
      }
      return k;
    }
  }
  return 0;
}

}  // namespace

std::string activation_names() {
  std::string s;
  for (const auto& row : kActivationTable) s += (s.empty() ? "" : ", ") + std::string(row.name);
  return s;
}

double ActivationSpec::get(std::string_view name) const {
  int i = param_index(row(), name);
  if (i < 0) throw ValueError(detail::concat(row().name, " has no parameter '", name, "'"));
  return values[i];
}

bool ActivationSpec::inplace() const {
  int i = param_index(row(), "inplace");
  return i >= 0 && values[i] != 0;
}

std::string ActivationSpec::to_string() const {
  const ActivationRow& r = row();
  std::string args;
  for (int i = 0; i < r.num_params; ++i) {
    const ParamSpec& ps = r.params[i];
    double dv = ps.default_value;
    bool same = (std::isnan(dv) && std::isnan(values[i])) || dv == values[i];
    if (same && !ps.required) continue;
    args += (args.empty() ? "" : ", ") + std::string(ps.name) + "=" + format_value(ps, values[i]);
  }
  return std::string(r.name) + (args.empty() ? "" : "(" + args + ")");
}

ActivationSpec default_spec(ActId id) {
  ActivationSpec s;
  s.id = id;
  const ActivationRow& row = s.row();
  for (int i = 0; i < row.num_params; ++i) s.values[i] = row.params[i].default_value;
  return s;
}

ActivationSpec parse_activation_spec(std::string_view text) {
  Cursor c{text};
  std::string_view name = c.ident();
  for (std::string_view prefix : {"torch.nn.", "nn."})
    if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  if (name.empty())
    throw ValueError(detail::concat("empty activation spec '", text, "'; valid names: ", activation_names()));
  const ActivationRow* row = nullptr;
  for (const auto& r : kActivationTable)
    if (r.name == name) row = &r;
  if (row == nullptr) {
    std::string hint;
    for (const auto& r : kActivationTable) {
      if (r.name.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < name.size(); ++i)
        same = same && std::tolower(static_cast<unsigned char>(r.name[i])) == std::tolower(static_cast<unsigned char>(name[i]));
      if (same) hint = detail::concat(" (did you mean '", r.name, "'?)");
    }
    throw ValueError(detail::concat("unknown activation '", name, "'", hint, "; valid names: ", activation_names()));
  }
  ActivationSpec spec = default_spec(row->id);
  std::array<bool, kernels::kMaxParams> given{};
  if (c.eat('(')) {
    int positional = 0;
    bool seen_keyword = false;
    if (!c.eat(')')) {
      while (true) {
        size_t save = c.pos;
        std::string_view key = c.ident();
        int index;
        std::string_view raw;
        if (!key.empty() && c.eat('=')) {
          index = param_index(*row, key);
          if (index < 0)
            throw ValueError(detail::concat(row->name, "() got an unexpected keyword argument '", key,
                                            "'; valid keywords: ", param_list(*row)));
          seen_keyword = true;
        } else {
          c.pos = save;
          if (seen_keyword) throw ValueError(detail::concat(row->name, ": positional argument follows keyword argument"));
          index = positional++;
          if (index >= row->num_params)
            throw ValueError(detail::concat(row->name, "() takes at most ", row->num_params, " argument",
                                            row->num_params == 1 ? "" : "s", " (", param_list(*row), ")"));
        }
        raw = c.value();
        if (raw.empty())
          throw ValueError(detail::concat(row->name, ": missing value for ", row->params[index].name, " in '", text, "'"));
        if (given[index])
          throw ValueError(detail::concat(row->name, "() got multiple values for argument '", row->params[index].name, "'"));
        given[index] = true;
        spec.values[index] = parse_value(*row, row->params[index], raw);
        if (c.eat(')')) break;
        if (!c.eat(','))
          throw ValueError(detail::concat("malformed activation spec '", text, "': expected ',' or ')' at column ",
                                          c.pos + 1));
        if (c.eat(')')) break;  // trailing comma
      }
    }
  }
  if (!c.at_end())
    throw ValueError(detail::concat("malformed activation spec '", text, "': unexpected text at column ", c.pos + 1));
  for (int i = 0; i < row->num_params; ++i)
    if (row->params[i].required && !given[i])
      throw ValueError(detail::concat(row->name, "() missing required argument '", row->params[i].name,
                                      "'; e.g. Threshold(threshold=0.1, value=20.0)"));
  validate(spec);
  return spec;
}

// ---- the module --------------------------------------------------------------------------------------------
Activation::Activation(ActivationSpec spec) : spec_(spec) {
  validate(spec_);
  if (spec_.id == ActId::PReLU)
    weight_ = register_parameter("weight", full({static_cast<int64_t>(spec_.values[0])}, spec_.values[1]));
}

std::string Activation::extra_repr() const {
  const ActivationRow& r = spec_.row();
  if (spec_.id == ActId::Softshrink || spec_.id == ActId::Hardshrink) return format_float(spec_.values[0]);
  if (spec_.id == ActId::PReLU) return "num_parameters=" + std::to_string(static_cast<int64_t>(spec_.values[0]));
  std::string s;
  for (int i = 0; i < r.num_params; ++i) {
    const ParamSpec& ps = r.params[i];
    if (ps.type == ParamType::Bool) {
      if (spec_.values[i] != 0) s += (s.empty() ? "" : ", ") + std::string(ps.name) + "=True";
      continue;
    }
    s += (s.empty() ? "" : ", ") + std::string(ps.name) + "=" + format_value(ps, spec_.values[i]);
  }
  return s;
}

Tensor Activation::forward(const Tensor& x) {
  const auto& v = spec_.values;
  switch (spec_.id) {
    case ActId::Softmax: return F::softmax(x, std::isnan(v[0]) ? std::nullopt : std::optional<int64_t>(v[0]));
    case ActId::LogSoftmax: return F::log_softmax(x, std::isnan(v[0]) ? std::nullopt : std::optional<int64_t>(v[0]));
    case ActId::Softmin: return F::softmin(x, std::isnan(v[0]) ? std::nullopt : std::optional<int64_t>(v[0]));
    case ActId::Softmax2d: return F::softmax2d(x);
    case ActId::PReLU: return F::prelu(x, weight_);
    case ActId::RReLU: return F::rrelu(x, v[0], v[1], is_training(), v[2] != 0);
    case ActId::GLU: return F::glu(x, static_cast<int64_t>(v[0]));
    default: return F::pointwise_activation(spec_.id, v, x, spec_.inplace());
  }
}

std::shared_ptr<Activation> make_activation(const ActivationSpec& spec) { return std::make_shared<Activation>(spec); }
std::shared_ptr<Activation> make_activation(std::string_view spec) { return make_activation(parse_activation_spec(spec)); }

// ---- named constructors ------------------------------------------------------------------------------------
namespace {
ActivationSpec with(ActId id, std::initializer_list<double> values) {
  ActivationSpec s = default_spec(id);
  size_t i = 0;
  for (double v : values) s.values[i++] = v;
  return s;
}
}  // namespace

ReLU::ReLU(bool inplace) : Activation(with(ActId::ReLU, {double(inplace)})) {}
LeakyReLU::LeakyReLU(LeakyReLUOptions o) : Activation(with(ActId::LeakyReLU, {o.negative_slope, double(o.inplace)})) {}
Sigmoid::Sigmoid() : Activation(with(ActId::Sigmoid, {})) {}
Tanh::Tanh() : Activation(with(ActId::Tanh, {})) {}
ELU::ELU(ELUOptions o) : Activation(with(ActId::ELU, {o.alpha, double(o.inplace)})) {}
SELU::SELU(bool inplace) : Activation(with(ActId::SELU, {double(inplace)})) {}
CELU::CELU(CELUOptions o) : Activation(with(ActId::CELU, {o.alpha, double(o.inplace)})) {}
GELU::GELU(GELUOptions o)
    : Activation([&] {
        if (o.approximate != "none" && o.approximate != "tanh")
          throw ValueError(detail::concat("GELU: approximate must be one of 'none', 'tanh'; got '", o.approximate, "'"));
        return with(ActId::GELU, {o.approximate == "tanh" ? 1.0 : 0.0});
      }()) {}
SiLU::SiLU(bool inplace) : Activation(with(ActId::SiLU, {double(inplace)})) {}
Mish::Mish(bool inplace) : Activation(with(ActId::Mish, {double(inplace)})) {}
Softplus::Softplus(SoftplusOptions o) : Activation(with(ActId::Softplus, {o.beta, o.threshold})) {}
Softsign::Softsign() : Activation(with(ActId::Softsign, {})) {}
Softshrink::Softshrink(ShrinkOptions o) : Activation(with(ActId::Softshrink, {o.lambd})) {}
Hardshrink::Hardshrink(ShrinkOptions o) : Activation(with(ActId::Hardshrink, {o.lambd})) {}
Tanhshrink::Tanhshrink() : Activation(with(ActId::Tanhshrink, {})) {}
Hardtanh::Hardtanh(HardtanhOptions o) : Activation(with(ActId::Hardtanh, {o.min_val, o.max_val, double(o.inplace)})) {}
ReLU6::ReLU6(bool inplace) : Activation(with(ActId::ReLU6, {double(inplace)})) {}
Hardsigmoid::Hardsigmoid(bool inplace) : Activation(with(ActId::Hardsigmoid, {double(inplace)})) {}
Hardswish::Hardswish(bool inplace) : Activation(with(ActId::Hardswish, {double(inplace)})) {}
LogSigmoid::LogSigmoid() : Activation(with(ActId::LogSigmoid, {})) {}
Threshold::Threshold(ThresholdOptions o) : Activation(with(ActId::Threshold, {o.threshold, o.value, double(o.inplace)})) {}
Softmax::Softmax(SoftmaxOptions o) : Activation(with(ActId::Softmax, {o.dim ? double(*o.dim) : std::nan("")})) {}
LogSoftmax::LogSoftmax(SoftmaxOptions o) : Activation(with(ActId::LogSoftmax, {o.dim ? double(*o.dim) : std::nan("")})) {}
Softmin::Softmin(SoftmaxOptions o) : Activation(with(ActId::Softmin, {o.dim ? double(*o.dim) : std::nan("")})) {}
Softmax2d::Softmax2d() : Activation(with(ActId::Softmax2d, {})) {}
PReLU::PReLU(PReLUOptions o) : Activation(with(ActId::PReLU, {double(o.num_parameters), o.init})) {}
RReLU::RReLU(RReLUOptions o) : Activation(with(ActId::RReLU, {o.lower, o.upper, double(o.inplace)})) {}
GLU::GLU(GLUOptions o) : Activation(with(ActId::GLU, {double(o.dim)})) {}

}  // namespace actlab::nn
