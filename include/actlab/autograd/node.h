// Graph nodes of reverse-mode autograd: each op's backward is a Node whose edges lead to the nodes that
// produced its inputs (or to the AccumulateGrad of a leaf).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actlab/core/tensor.h"

namespace actlab::autograd {

class Node;

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  bool valid() const { return fn != nullptr; }
};

// A tensor saved for backward. It remembers the version of the tensor's storage when saved, and
// unpack() raises PyTorch's error if an in-place op changed it since.
class SavedVariable {
 public:
  SavedVariable() = default;
  // is_output: the tensor is an output of the node that saves it (kept without its grad_fn to avoid a cycle).
  SavedVariable(const Tensor& t, bool is_output);
  Tensor unpack(const Node* owner) const;
  void reset();
  bool defined() const { return data_.defined() || was_defined_; }

 private:
  Tensor data_;
  uint32_t saved_version_ = 0;
  bool is_output_ = false;
  bool was_defined_ = false;
  bool released_ = false;
  std::shared_ptr<Node> grad_fn_;  // the input's producer, for the error message (inputs only)
  uint32_t output_nr_ = 0;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Gradients of the outputs in, gradients of the inputs out (one per next edge; undefined = zero).
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) = 0;
  virtual std::string name() const = 0;
  // Drop saved tensors after backward (unless retain_graph).
  virtual void release_variables() {}
  virtual int num_outputs() const { return 1; }

  std::vector<Edge> next_edges;
  uint64_t sequence_nr() const { return sequence_nr_; }

  // Hooks on the gradient of one of this node's outputs (Tensor::register_hook, retain_grad).
  using TensorHook = std::function<Tensor(const Tensor&)>;
  void add_tensor_pre_hook(uint32_t output_nr, TensorHook hook) { pre_hooks_.emplace_back(output_nr, std::move(hook)); }
  std::vector<std::pair<uint32_t, TensorHook>>& tensor_pre_hooks() { return pre_hooks_; }
  // Hooks run after apply with (grad_inputs, grad_outputs); they may replace grad_inputs.
  using PostHook = std::function<void(std::vector<Tensor>& grad_inputs, const std::vector<Tensor>& grad_outputs)>;
  void add_post_hook(PostHook h) { post_hooks_.push_back(std::move(h)); }
  std::vector<PostHook>& post_hooks() { return post_hooks_; }
  // Hooks run before apply with grad_outputs; they may replace them.
  using PreHook = std::function<void(std::vector<Tensor>& grad_outputs)>;
  void add_pre_hook(PreHook h) { node_pre_hooks_.push_back(std::move(h)); }
  std::vector<PreHook>& pre_hooks() { return node_pre_hooks_; }

  // Set when release_variables ran: a second backward through this node is PyTorch's error.
  bool released = false;

 private:
  uint64_t sequence_nr_;
  std::vector<std::pair<uint32_t, TensorHook>> pre_hooks_;
  std::vector<PostHook> post_hooks_;
  std::vector<PreHook> node_pre_hooks_;
};

// The sink for a leaf's gradient: sums incoming gradients into leaf.grad.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  std::string name() const override { return "AccumulateGrad"; }
  std::shared_ptr<TensorImpl> leaf() const { return leaf_.lock(); }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// A node defined by a lambda, for ops whose backward is a few lines (most of ops/).
class FunctionNode : public Node {
 public:
  using Backward = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads, FunctionNode& self)>;
  FunctionNode(std::string name, Backward fn, int num_outputs = 1)
      : name_(std::move(name)), fn_(std::move(fn)), num_outputs_(num_outputs) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  std::string name() const override { return name_; }
  void release_variables() override;
  int num_outputs() const override { return num_outputs_; }
  // Saved tensors: save() before the forward result is attached, saved(i) inside the backward.
  size_t save(const Tensor& t, bool is_output = false);
  Tensor saved(size_t i) const { return saved_[i].unpack(this); }
  size_t num_saved() const { return saved_.size(); }

 private:
  std::string name_;
  Backward fn_;
  int num_outputs_;
  std::vector<SavedVariable> saved_;
};

// ---- wiring helpers used by every op --------------------------------------------------------------------
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
// True when grad mode is on and any input requires grad: the op must record a node.
bool compute_requires_grad(std::initializer_list<const Tensor*> inputs);
Edge gradient_edge(const Tensor& t);  // (grad_fn, output_nr), or the leaf's accumulator, or invalid
void set_next_edges(Node& node, std::initializer_list<const Tensor*> inputs);
// Make `out` the output number `output_nr` of `node`.
void set_history(Tensor& out, const std::shared_ptr<Node>& node, uint32_t output_nr = 0);
std::shared_ptr<AccumulateGrad> grad_accumulator(const Tensor& leaf);

// In-place ops call this before writing into `t`: PyTorch's leaf check, and the version bump after.
void check_inplace(const Tensor& t);
void bump_version(const Tensor& t);
// After an in-place op on `t` that autograd records, `node` becomes t's grad_fn. On a view, as in PyTorch,
// the view's base gets CopySlices (node's backward applied to the view's part of the base's gradient) and the
// view gets AsStridedBackward0 of the base.
void rebase_history(Tensor& t, const std::shared_ptr<Node>& node);
// A view whose storage was changed in place since its history was set gets AsStridedBackward0 of its base
// (when the base has a history): called wherever a tensor's grad_fn is read.
void refresh_view_history(TensorImpl* impl);

// Run backward from `roots` with `grads` (undefined = ones for scalars).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

// Anomaly mode (torch.autograd.set_detect_anomaly): checks every backward output for NaN.
bool anomaly_mode_enabled();
void set_detect_anomaly(bool on);

}  // namespace actlab::autograd
