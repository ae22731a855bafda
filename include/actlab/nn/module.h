// nn::Module: the base of every layer. Holds parameters, buffers and children by name, in registration
// order, and a training flag; prints itself the way PyTorch does; runs forward and backward hooks with
// torch.nn.Module's semantics; saves and loads its state_dict.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actlab/core/tensor.h"

namespace actlab::nn {

class Module;

// ---- hooks ------------------------------------------------------------------------------------------------
// Signatures, as in torch.nn.Module (one input tensor, one output tensor). A hook returning a tensor
// replaces the value it was given; std::nullopt keeps it.
//   forward pre-hook:   (module, input)                      -> replacement input
//   forward hook:       (module, input, output)              -> replacement output
//   backward pre-hook:  (module, grad_output)                -> replacement grad_output
//   backward hook:      (module, grad_input, grad_output)    -> replacement grad_input
// grad_input is an undefined Tensor when the module's input does not require grad (PyTorch's None).
using ForwardPreHook = std::function<std::optional<Tensor>(Module&, const Tensor& input)>;
using ForwardHook = std::function<std::optional<Tensor>(Module&, const Tensor& input, const Tensor& output)>;
using BackwardPreHook = std::function<std::optional<Tensor>(Module&, const Tensor& grad_output)>;
using BackwardHook =
    std::function<std::optional<Tensor>(Module&, const Tensor& grad_input, const Tensor& grad_output)>;

// Removes the hook it was returned for (torch.utils.hooks.RemovableHandle). remove() is idempotent and safe
// after the module that held the hook is gone. Destroying the handle does not remove the hook.
class RemovableHandle {
 public:
  RemovableHandle() = default;
  explicit RemovableHandle(std::function<void()> remover) : remover_(std::move(remover)) {}
  void remove() {
    if (remover_) {
      auto r = std::move(remover_);
      remover_ = nullptr;
      r();
    }
  }

 private:
  std::function<void()> remover_;
};

// An ordered list of hooks keyed by a growing id (Python's OrderedDict of hooks).
template <class F>
struct HookList {
  uint64_t next_id = 0;
  std::vector<std::pair<uint64_t, F>> items;

  uint64_t add(F f, bool prepend) {
    uint64_t id = next_id++;
    if (prepend)
      items.insert(items.begin(), {id, std::move(f)});
    else
      items.emplace_back(id, std::move(f));
    return id;
  }
  void erase(uint64_t id) {
    for (auto it = items.begin(); it != items.end(); ++it)
      if (it->first == id) {
        items.erase(it);
        return;
      }
  }
};

// Global hooks, run for every module before the module's own (torch.nn.modules.module.register_module_*).
RemovableHandle register_module_forward_pre_hook(ForwardPreHook hook);
RemovableHandle register_module_forward_hook(ForwardHook hook);
RemovableHandle register_module_full_backward_pre_hook(BackwardPreHook hook);
RemovableHandle register_module_full_backward_hook(BackwardHook hook);

// What load_state_dict(strict=false) reports (PyTorch's _IncompatibleKeys).
struct IncompatibleKeys {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

using StateDict = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module();
  virtual ~Module() = default;
  // Copies share parameter tensors and children (a shallow copy) but get their own copy of the hooks:
  // a handle returned by the original removes the hook from the original only.
  Module(const Module& other);
  Module& operator=(const Module& other);
  // A move carries the hooks (and handles keep working on the moved-to module).
  Module(Module&& other) noexcept;
  Module& operator=(Module&& other) noexcept;

  virtual Tensor forward(const Tensor& input) = 0;
  // Runs forward with the hooks around it, as torch.nn.Module.__call__: global then own forward pre-hooks,
  // forward, global then own forward hooks. With backward hooks registered, the input and output pass
  // through identity autograd nodes (PyTorch's BackwardHookFunction) so grad_output and grad_input can
  // be observed and replaced. A module must outlive a backward pass through it for its backward hooks to
  // run; if it is gone they are skipped.
  Tensor operator()(const Tensor& input);

  // "ReLU", "Conv2d": the PyTorch class name.
  virtual std::string type_name() const = 0;
  // What goes between the parentheses when printed, e.g. "inplace=True".
  virtual std::string extra_repr() const { return ""; }
  std::string to_string() const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // This module ("") and every descendant, depth first, with dotted names ("0", "1.conv").
  std::vector<std::pair<std::string, Module*>> named_modules();
  // Sets every parameter's grad to undefined (PyTorch's zero_grad(set_to_none=True)), or zeroes it in place.
  void zero_grad(bool set_to_none = true);

  // Parameters and buffers by dotted name, in PyTorch's order: each module's parameters, then its buffers,
  // then its children's, recursively. The tensors share storage with the module (detached aliases).
  StateDict state_dict() const;
  // Copies values into the module's tensors in place. strict: every key must match; errors are PyTorch's:
  // "Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: "0.bias". ...".
  // Shape mismatches are always errors. Returns the missing and unexpected keys (when not strict).
  IncompatibleKeys load_state_dict(const StateDict& state, bool strict = true);

  // Whether any hook would run around this module's forward or backward: its own or a global one.
  bool has_hooks() const;

  // ---- hooks (see the signatures above). prepend: run before the hooks already registered. ----------------
  RemovableHandle register_forward_pre_hook(ForwardPreHook hook, bool prepend = false);
  RemovableHandle register_forward_hook(ForwardHook hook, bool prepend = false);
  RemovableHandle register_full_backward_pre_hook(BackwardPreHook hook, bool prepend = false);
  RemovableHandle register_full_backward_hook(BackwardHook hook, bool prepend = false);

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor t);
  std::shared_ptr<Module> register_module(const std::string& name, std::shared_ptr<Module> m);
  virtual void on_train_changed() {}

 private:
  void collect(const std::string& prefix, bool recurse, bool buffers,
               std::vector<std::pair<std::string, Tensor>>& out) const;
  void collect_state(const std::string& prefix, StateDict& out) const;
  void collect_modules(const std::string& prefix, std::vector<std::pair<std::string, Module*>>& out);

  struct Hooks {
    HookList<ForwardPreHook> forward_pre;
    HookList<ForwardHook> forward;
    HookList<BackwardPreHook> backward_pre;
    HookList<BackwardHook> backward;
  };

  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::shared_ptr<Hooks> hooks_;
  // Lives as long as this module; backward hooks hold a weak reference to know it is still there.
  std::shared_ptr<Module*> alive_;
};

// Python's repr of a float: shortest round-trip digits, with ".0" when integral ("0.2", "1.0", "1e-05").
std::string format_float(double v);

}  // namespace actlab::nn
