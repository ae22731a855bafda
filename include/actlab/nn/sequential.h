// nn::Sequential: a chain of modules, named "0", "1", ... and run in order (torch.nn.Sequential).
//
//   auto model = nn::Sequential(nn::Conv2d(3, 16, 3), nn::ReLU(), nn::MaxPool2d(2));
//   model[1].register_forward_hook(...);       // Module&, negative indices count from the end
//   auto state = model.state_dict();           // "0.weight", "0.bias", ...
#pragma once

#include <concepts>
#include <memory>
#include <type_traits>
#include <vector>

#include "actlab/nn/module.h"

namespace actlab::nn {

namespace sequential_detail {
template <class T>
struct is_module_ptr : std::false_type {};
template <class M>
struct is_module_ptr<std::shared_ptr<M>> : std::bool_constant<std::derived_from<M, Module>> {};
// A module taken by value (moved or copied into a shared_ptr) or a shared_ptr to one (shared as is).
template <class T>
concept SequentialItem = std::derived_from<std::decay_t<T>, Module> || is_module_ptr<std::decay_t<T>>::value;
}  // namespace sequential_detail

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  // Each argument is a module by value or a std::shared_ptr to a module. (A single Sequential argument
  // is a copy or move, not a nesting; nest one with std::make_shared<Sequential>(...).)
  template <sequential_detail::SequentialItem... Ms>
    requires(sizeof...(Ms) > 0 && !(sizeof...(Ms) == 1 && (std::same_as<std::decay_t<Ms>, Sequential> && ...)))
  explicit Sequential(Ms&&... modules) {
    (push_back(wrap(std::forward<Ms>(modules))), ...);
  }

  // Appends a module named by its position.
  void push_back(std::shared_ptr<Module> module);
  template <class M>
    requires std::derived_from<std::decay_t<M>, Module>
  void push_back(M&& module) {
    push_back(wrap(std::forward<M>(module)));
  }

  // The i-th module; negative i counts from the end. IndexError "index 5 is out of range" otherwise.
  Module& operator[](int64_t i) const;
  std::shared_ptr<Module> ptr(int64_t i) const;
  int64_t size() const { return static_cast<int64_t>(named_children().size()); }

  // Chains the modules through their operator() (so their hooks run).
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sequential"; }

 private:
  template <class M>
  static std::shared_ptr<Module> wrap(M&& m) {
    if constexpr (sequential_detail::is_module_ptr<std::decay_t<M>>::value)
      return std::static_pointer_cast<Module>(std::forward<M>(m));
    else
      return std::make_shared<std::decay_t<M>>(std::forward<M>(m));
  }
};

}  // namespace actlab::nn
