// nn::Module: the base of every layer. Holds parameters, buffers and children by name, in registration
// order, and a training flag; prints itself the way PyTorch does.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actlab/core/tensor.h"

namespace actlab::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  virtual Tensor forward(const Tensor& input) = 0;
  // Calls forward (the place where hooks run).
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
  void zero_grad();

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor t);
  std::shared_ptr<Module> register_module(const std::string& name, std::shared_ptr<Module> m);
  virtual void on_train_changed() {}

 private:
  void collect(const std::string& prefix, bool recurse, bool buffers,
               std::vector<std::pair<std::string, Tensor>>& out) const;

  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Python's repr of a float: shortest round-trip digits, with ".0" when integral ("0.2", "1.0", "1e-05").
std::string format_float(double v);

}  // namespace actlab::nn
