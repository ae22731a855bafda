#include "actlab/optim/optimizer.h"

#include <map>

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/core/tensor_impl.h"

namespace actlab::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) {
  if (params.empty()) throw ValueError("optimizer got an empty parameter list");
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (!p.defined()) throw ValueError(detail::concat("optimizer: parameter ", i, " is an undefined tensor"));
    if (!p.is_leaf()) throw ValueError("can't optimize a non-leaf Tensor");
    if (!p.is_floating_point())
      throw ValueError(detail::concat("optimizer: parameter ", i, " is not a floating-point tensor"));
    for (size_t j = 0; j < i; ++j)
      if (params[j].is_same(p)) throw ValueError("some parameters appear more than once in the parameter list");
  }
  ParamGroup g;
  g.params = std::move(params);
  g.lr = lr;
  state_.resize(g.params.size());
  groups_.push_back(std::move(g));
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& g : groups_)
    for (auto& p : g.params) {
      if (!p.grad().defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        NoGradGuard ng;
        p.grad().zero_();  // the handle shares the gradient's storage
      }
    }
}

void Optimizer::set_lr(double lr) {
  for (auto& g : groups_) g.lr = lr;
}

Tensor* Optimizer::ParamState::find(const std::string& name) {
  for (auto& [k, t] : buffers)
    if (k == name) return &t;
  return nullptr;
}

OptimizerStateDict Optimizer::state_dict() const {
  OptimizerStateDict out;
  for (size_t i = 0; i < state_.size(); ++i) {
    const ParamState& s = state_[i];
    if (s.buffers.empty() && s.step == 0) continue;
    std::string prefix = "state." + std::to_string(i) + ".";
    if (has_step()) out.emplace_back(prefix + "step", scalar_tensor(static_cast<double>(s.step)));
    for (const auto& [k, t] : s.buffers) out.emplace_back(prefix + k, t.detach().clone());
  }
  for (size_t g = 0; g < groups_.size(); ++g)
    out.emplace_back("param_groups." + std::to_string(g) + ".lr", scalar_tensor(groups_[g].lr, {Dtype::Float64}));
  return out;
}

void Optimizer::load_state_dict(const OptimizerStateDict& dict) {
  std::vector<std::string> names = buffer_names();
  std::vector<ParamState> fresh(state_.size());
  std::vector<double> lrs(groups_.size());
  std::vector<bool> have_lr(groups_.size(), false);
  std::vector<Tensor> params;
  for (auto& g : groups_)
    for (auto& p : g.params) params.push_back(p);

  auto parse_index = [](const std::string& s, size_t& pos) -> int64_t {
    size_t end = s.find('.', pos);
    std::string num = s.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos || num.size() > 9) return -1;
    pos = end == std::string::npos ? s.size() : end + 1;
    return std::stoll(num);
  };
  for (const auto& [key, t] : dict) {
    if (!t.defined()) throw ValueError("optimizer state_dict: undefined tensor for key \"" + key + "\"");
    if (key.rfind("param_groups.", 0) == 0) {
      size_t pos = 13;
      int64_t g = parse_index(key, pos);
      if (g < 0 || key.substr(pos) != "lr")
        throw ValueError("optimizer state_dict: unexpected key \"" + key + "\"");
      if (g >= static_cast<int64_t>(groups_.size()))
        throw ValueError("loaded state dict has a different number of parameter groups");
      lrs[g] = t.item<double>();
      have_lr[g] = true;
    } else if (key.rfind("state.", 0) == 0) {
      size_t pos = 6;
      int64_t i = parse_index(key, pos);
      std::string field = i < 0 ? "" : key.substr(pos);
      if (i < 0 || field.empty()) throw ValueError("optimizer state_dict: unexpected key \"" + key + "\"");
      if (i >= static_cast<int64_t>(params.size()))
        throw ValueError(detail::concat("optimizer state_dict: key \"", key, "\" refers to parameter ", i,
                                        " but the optimizer has ", params.size()));
      if (field == "step" && has_step()) {
        fresh[i].step = static_cast<int64_t>(t.item<double>());
        continue;
      }
      bool known = false;
      for (auto& n : names) known = known || n == field;
      if (!known) throw ValueError("optimizer state_dict: unexpected key \"" + key + "\"");
      if (t.sizes() != params[i].sizes())
        throw ValueError(detail::concat("optimizer state_dict: \"", key, "\" has shape ", shape_str(t.sizes()),
                                        " but parameter ", i, " has shape ", shape_str(params[i].sizes())));
      fresh[i].buffers.emplace_back(field, t.detach().to(params[i].dtype()).clone().contiguous());
    } else {
      throw ValueError("optimizer state_dict: unexpected key \"" + key + "\"");
    }
  }
  for (size_t g = 0; g < groups_.size(); ++g)
    if (!have_lr[g]) throw ValueError(detail::concat("optimizer state_dict: missing key \"param_groups.", g, ".lr\""));
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].lr = lrs[g];
  state_ = std::move(fresh);
}

void Optimizer::for_each_param_with_grad(
    const char* who, const std::function<void(Tensor& p, const Tensor& g, ParamState& st, double lr)>& f) {
  NoGradGuard ng;
  size_t index = 0;
  for (auto& group : groups_) {
    for (Tensor& p : group.params) {
      ParamState& st = state(index++);
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (!p.is_contiguous()) throw ValueError(detail::concat(who, ": parameters must be contiguous"));
      f(p, grad.to(p.dtype()).contiguous(), st, group.lr);
      autograd::bump_version(p);
    }
  }
}

}  // namespace actlab::optim
