#include "actlab/nn/module.h"

#include <charconv>
#include <cmath>
#include <sstream>

#include "actlab/autograd/grad_mode.h"

namespace actlab::nn {

Tensor Module::operator()(const Tensor& input) { return forward(input); }

void Module::train(bool on) {
  training_ = on;
  on_train_changed();
  for (auto& [name, child] : children_) child->train(on);
}

Tensor& Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  if (t.defined() && requires_grad) t.requires_grad_(true);
  parameters_.emplace_back(name, std::move(t));
  return parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, std::move(t));
  return buffers_.back().second;
}

std::shared_ptr<Module> Module::register_module(const std::string& name, std::shared_ptr<Module> m) {
  children_.emplace_back(name, m);
  return m;
}

void Module::collect(const std::string& prefix, bool recurse, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, t] : buffers ? buffers_ : parameters_)
    if (t.defined()) out.emplace_back(prefix + name, t);
  if (!recurse) return;
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", true, buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", recurse, false, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", recurse, true, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.set_grad(Tensor());
}

std::string Module::to_string() const {
  std::string s = type_name() + "(";
  if (children_.empty()) return s + extra_repr() + ")";
  std::string extra = extra_repr();
  s += "\n";
  if (!extra.empty()) s += "  " + extra + "\n";
  for (const auto& [name, child] : children_) {
    std::string c = child->to_string();
    std::string indented;
    for (char ch : c) {
      indented += ch;
      if (ch == '\n') indented += "  ";
    }
    s += "  (" + name + "): " + indented + "\n";
  }
  return s + ")";
}

std::string format_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  // Python writes exponents as e-05 / e+20 and switches to them below 1e-4 and from 1e16.
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-4 || a >= 1e16)) {
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    s.assign(buf, r.ptr);
    auto e = s.find('e');
    std::string mant = s.substr(0, e), ex = s.substr(e + 1);
    char sign = ex[0] == '-' ? '-' : '+';
    if (ex[0] == '-' || ex[0] == '+') ex = ex.substr(1);
    if (ex.size() < 2) ex = "0" + ex;
    return mant + "e" + sign + ex;
  }
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace actlab::nn
