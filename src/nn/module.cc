#include "actlab/nn/module.h"

#include <charconv>
#include <cmath>
#include <sstream>

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/core/tensor_impl.h"

namespace actlab::nn {

namespace {

struct GlobalHooks {
  HookList<ForwardPreHook> forward_pre;
  HookList<ForwardHook> forward;
  HookList<BackwardPreHook> backward_pre;
  HookList<BackwardHook> backward;
};

std::shared_ptr<GlobalHooks>& global_hooks() {
  static std::shared_ptr<GlobalHooks> g = std::make_shared<GlobalHooks>();
  return g;
}


// A handle that removes hook `id` from `(owner->*member)` while the owner exists.
template <class H, class List>
RemovableHandle make_handle(const std::shared_ptr<H>& owner, List H::*member, uint64_t id) {
  std::weak_ptr<H> weak = owner;
  return RemovableHandle([weak, member, id] {
    if (auto o = weak.lock()) ((*o).*member).erase(id);
  });
}

template <class F>
std::vector<F> snapshot(const HookList<F>& global, const HookList<F>& own) {
  std::vector<F> out;
  out.reserve(global.items.size() + own.items.size());
  for (const auto& [id, f] : global.items) out.push_back(f);
  for (const auto& [id, f] : own.items) out.push_back(f);
  return out;
}

// The state one forward call shares with its two identity nodes (PyTorch's BackwardHook object).
struct BackwardHookState {
  std::weak_ptr<Module*> module;
  std::vector<BackwardPreHook> pre_hooks;
  std::vector<BackwardHook> hooks;
  Tensor grad_output;
  bool have_grad_output = false;
  bool input_requires_grad = false;
};

// An alias of t (same storage and geometry) that is output 0 of an identity node whose edge leads to t.
Tensor identity_through(const Tensor& t, std::shared_ptr<autograd::FunctionNode>& node_out) {
  auto node = std::make_shared<autograd::FunctionNode>(
      "BackwardHookFunctionBackward",
      [](const std::vector<Tensor>& g, autograd::FunctionNode&) -> std::vector<Tensor> { return {g[0]}; });
  autograd::set_next_edges(*node, {&t});
  const TensorImpl& src = *t.impl();
  Tensor alias(make_view_impl(src, src.sizes, src.strides, src.offset));
  autograd::set_history(alias, node);
  node_out = node;
  return alias;
}

Tensor setup_input_hook(const std::shared_ptr<BackwardHookState>& bw, const Tensor& input) {
  if (!input.defined() || !input.requires_grad() || !is_grad_enabled()) return input;
  bw->input_requires_grad = true;
  std::shared_ptr<autograd::FunctionNode> node;
  Tensor out = identity_through(input, node);
  // The alias is a view of the caller's tensor: an in-place op inside forward (ReLU(inplace=true)) would
  // change the caller's data behind its history, so it is refused, as PyTorch refuses in-place ops on
  // BackwardHookFunction outputs.
  out.impl()->is_view = true;
  out.impl()->view_of_leaf = input.is_leaf() || input.impl()->view_of_leaf;
  node->add_post_hook([bw](std::vector<Tensor>& grad_inputs, const std::vector<Tensor>&) {
    // No grad_output seen: the gradient reached the input without passing the output (PyTorch skips).
    if (!bw->have_grad_output) return;
    bw->have_grad_output = false;
    auto alive = bw->module.lock();
    if (!alive) return;
    Module& m = **alive;
    Tensor res = grad_inputs.empty() ? Tensor() : grad_inputs[0];
    for (auto& h : bw->hooks) {
      auto r = h(m, res, bw->grad_output);
      if (r) res = *r;
    }
    bw->grad_output = Tensor();
    if (!grad_inputs.empty()) grad_inputs[0] = res;
  });
  return out;
}

Tensor setup_output_hook(const std::shared_ptr<BackwardHookState>& bw, const Tensor& output) {
  if (!output.defined() || !output.requires_grad() || !is_grad_enabled()) return output;
  std::shared_ptr<autograd::FunctionNode> node;
  Tensor out = identity_through(output, node);
  node->add_pre_hook([bw](std::vector<Tensor>& grad_outputs) {
    auto alive = bw->module.lock();
    if (!alive || grad_outputs.empty()) return;
    Module& m = **alive;
    bw->grad_output = grad_outputs[0];
    bw->have_grad_output = true;
    for (auto& h : bw->pre_hooks) {
      auto r = h(m, bw->grad_output);
      if (r) bw->grad_output = *r;
    }
    if (!bw->input_requires_grad) {
      // No input requires grad: the backward hooks run here, with grad_input None (PyTorch).
      for (auto& h : bw->hooks) {
        auto r = h(m, Tensor(), bw->grad_output);
        if (r && r->defined())
          throw Error(
              "Backward hook for Modules where no input requires gradient should always return None or None "
              "for all gradients.");
      }
      bw->have_grad_output = false;
    }
    grad_outputs[0] = bw->grad_output;
  });
  return out;
}

}  // namespace

RemovableHandle register_module_forward_pre_hook(ForwardPreHook hook) {
  auto& g = global_hooks();
  return make_handle(g, &GlobalHooks::forward_pre, g->forward_pre.add(std::move(hook), false));
}
RemovableHandle register_module_forward_hook(ForwardHook hook) {
  auto& g = global_hooks();
  return make_handle(g, &GlobalHooks::forward, g->forward.add(std::move(hook), false));
}
RemovableHandle register_module_full_backward_pre_hook(BackwardPreHook hook) {
  auto& g = global_hooks();
  return make_handle(g, &GlobalHooks::backward_pre, g->backward_pre.add(std::move(hook), false));
}
RemovableHandle register_module_full_backward_hook(BackwardHook hook) {
  auto& g = global_hooks();
  return make_handle(g, &GlobalHooks::backward, g->backward.add(std::move(hook), false));
}

Module::Module() : hooks_(std::make_shared<Hooks>()), alive_(std::make_shared<Module*>(this)) {}

Module::Module(const Module& o)
    : training_(o.training_),
      parameters_(o.parameters_),
      buffers_(o.buffers_),
      children_(o.children_),
      hooks_(std::make_shared<Hooks>(o.hooks_ ? *o.hooks_ : Hooks{})),
      alive_(std::make_shared<Module*>(this)) {}

Module& Module::operator=(const Module& o) {
  if (this == &o) return *this;
  training_ = o.training_;
  parameters_ = o.parameters_;
  buffers_ = o.buffers_;
  children_ = o.children_;
  hooks_ = std::make_shared<Hooks>(o.hooks_ ? *o.hooks_ : Hooks{});
  return *this;
}

Module::Module(Module&& o) noexcept
    : training_(o.training_),
      parameters_(std::move(o.parameters_)),
      buffers_(std::move(o.buffers_)),
      children_(std::move(o.children_)),
      hooks_(std::move(o.hooks_)),
      alive_(std::move(o.alive_)) {
  if (!hooks_) hooks_ = std::make_shared<Hooks>();
  if (alive_)
    *alive_ = this;
  else
    alive_ = std::make_shared<Module*>(this);
  o.hooks_ = std::make_shared<Hooks>();
  o.alive_ = std::make_shared<Module*>(&o);
}

Module& Module::operator=(Module&& o) noexcept {
  if (this == &o) return *this;
  training_ = o.training_;
  parameters_ = std::move(o.parameters_);
  buffers_ = std::move(o.buffers_);
  children_ = std::move(o.children_);
  hooks_ = o.hooks_ ? std::move(o.hooks_) : std::make_shared<Hooks>();
  // This object keeps its own liveness token; backward hooks of o's pending graphs see o's.
  o.hooks_ = std::make_shared<Hooks>();
  return *this;
}

RemovableHandle Module::register_forward_pre_hook(ForwardPreHook hook, bool prepend) {
  return make_handle(hooks_, &Hooks::forward_pre, hooks_->forward_pre.add(std::move(hook), prepend));
}
RemovableHandle Module::register_forward_hook(ForwardHook hook, bool prepend) {
  return make_handle(hooks_, &Hooks::forward, hooks_->forward.add(std::move(hook), prepend));
}
RemovableHandle Module::register_full_backward_pre_hook(BackwardPreHook hook, bool prepend) {
  return make_handle(hooks_, &Hooks::backward_pre, hooks_->backward_pre.add(std::move(hook), prepend));
}
RemovableHandle Module::register_full_backward_hook(BackwardHook hook, bool prepend) {
  return make_handle(hooks_, &Hooks::backward, hooks_->backward.add(std::move(hook), prepend));
}

bool Module::has_hooks() const {
  const GlobalHooks& g = *global_hooks();
  const Hooks& h = *hooks_;
  return !g.forward_pre.items.empty() || !h.forward_pre.items.empty() || !g.forward.items.empty() ||
         !h.forward.items.empty() || !g.backward_pre.items.empty() || !h.backward_pre.items.empty() ||
         !g.backward.items.empty() || !h.backward.items.empty();
}

Tensor Module::operator()(const Tensor& x) {
  const GlobalHooks& g = *global_hooks();
  const Hooks& h = *hooks_;
  bool any_forward = !g.forward_pre.items.empty() || !h.forward_pre.items.empty() || !g.forward.items.empty() ||
                     !h.forward.items.empty();
  bool any_backward = !g.backward_pre.items.empty() || !h.backward_pre.items.empty() ||
                      !g.backward.items.empty() || !h.backward.items.empty();
  if (!any_forward && !any_backward) return forward(x);

  // Snapshots: a hook may add or remove hooks while running.
  Tensor input = x;
  for (auto& hook : snapshot(g.forward_pre, h.forward_pre)) {
    auto r = hook(*this, input);
    if (r) input = *r;
  }
  std::shared_ptr<BackwardHookState> bw;
  if (any_backward) {
    bw = std::make_shared<BackwardHookState>();
    bw->module = alive_;
    bw->pre_hooks = snapshot(g.backward_pre, h.backward_pre);
    bw->hooks = snapshot(g.backward, h.backward);
    input = setup_input_hook(bw, input);
  }
  Tensor result = forward(input);
  for (auto& hook : snapshot(g.forward, h.forward)) {
    auto r = hook(*this, input, result);
    if (r) result = *r;
  }
  if (bw) result = setup_output_hook(bw, result);
  return result;
}

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

void Module::zero_grad(bool set_to_none) {
  for (auto& p : parameters()) {
    if (set_to_none) {
      p.set_grad(Tensor());
    } else if (p.grad().defined()) {
      NoGradGuard ng;
      p.grad().zero_();  // the handle shares the gradient's storage
    }
  }
}

void Module::collect_modules(const std::string& prefix, std::vector<std::pair<std::string, Module*>>& out) {
  out.emplace_back(prefix, this);
  for (auto& [name, child] : children_) child->collect_modules(prefix.empty() ? name : prefix + "." + name, out);
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  collect_modules("", out);
  return out;
}

void Module::collect_state(const std::string& prefix, StateDict& out) const {
  for (const auto& [name, t] : parameters_)
    if (t.defined()) out.emplace_back(prefix + name, t.detach());
  for (const auto& [name, t] : buffers_)
    if (t.defined()) out.emplace_back(prefix + name, t.detach());
  for (const auto& [name, child] : children_) child->collect_state(prefix + name + ".", out);
}

StateDict Module::state_dict() const {
  StateDict out;
  collect_state("", out);
  return out;
}

IncompatibleKeys Module::load_state_dict(const StateDict& state, bool strict) {
  StateDict own = state_dict();
  std::map<std::string, const Tensor*> given;
  for (const auto& [k, t] : state) given.emplace(k, &t);
  std::map<std::string, bool> own_names;
  for (const auto& [k, t] : own) own_names[k] = true;

  IncompatibleKeys keys;
  std::vector<std::string> errors;
  std::vector<std::pair<Tensor, Tensor>> copies;
  for (auto& [k, t] : own) {
    auto it = given.find(k);
    if (it == given.end()) {
      keys.missing_keys.push_back(k);
      continue;
    }
    const Tensor& src = *it->second;
    if (!src.defined() || src.sizes() != t.sizes()) {
      errors.push_back(detail::concat("size mismatch for ", k, ": copying a param with shape torch.Size(",
                                      src.defined() ? shape_str(src.sizes()) : "[]",
                                      ") from checkpoint, the shape in current model is torch.Size(",
                                      shape_str(t.sizes()), ")."));
      continue;
    }
    copies.emplace_back(t, src);
  }
  for (const auto& [k, t] : state)
    if (!own_names.count(k)) keys.unexpected_keys.push_back(k);

  auto quoted = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + v[i] + "\"";
    return s;
  };
  if (strict) {
    if (!keys.unexpected_keys.empty())
      errors.insert(errors.begin(), "Unexpected key(s) in state_dict: " + quoted(keys.unexpected_keys) + ". ");
    if (!keys.missing_keys.empty())
      errors.insert(errors.begin(), "Missing key(s) in state_dict: " + quoted(keys.missing_keys) + ". ");
  }
  if (!errors.empty()) {
    std::string msg = "Error(s) in loading state_dict for " + type_name() + ":";
    for (auto& e : errors) msg += "\n\t" + e;
    throw Error(msg);
  }
  NoGradGuard ng;
  for (auto& [dst, src] : copies) {
    Tensor d = dst;
    d.copy_(src);
  }
  return keys;
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
