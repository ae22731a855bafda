// Nodes, saved variables, and the wiring every op uses to record history.
#include <atomic>

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/core/tensor_impl.h"
#include "actlab/ops/ops.h"

namespace actlab::autograd {

namespace {
std::atomic<uint64_t> g_sequence{0};

const char* kReleasedMessage =
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if "
    "you need to access saved tensors after calling backward.";
}  // namespace

Node::Node() : sequence_nr_(g_sequence.fetch_add(1, std::memory_order_relaxed)) {}

// ---- SavedVariable ------------------------------------------------------------------------------------
SavedVariable::SavedVariable(const Tensor& t, bool is_output) : is_output_(is_output) {
  if (!t.defined()) return;
  was_defined_ = true;
  refresh_view_history(t.impl());
  const TensorImpl& src = *t.impl();
  // A shallow alias without autograd state: saving the output itself would make a cycle through grad_fn.
  data_ = Tensor(make_view_impl(src, src.sizes, src.strides, src.offset));
  saved_version_ = src.storage->version;
  output_nr_ = src.output_nr;
  if (!is_output) grad_fn_ = src.grad_fn;
}

void SavedVariable::reset() {
  data_ = Tensor();
  grad_fn_.reset();
  released_ = true;
}

Tensor SavedVariable::unpack(const Node* owner) const {
  if (released_) throw Error(kReleasedMessage);
  if (!data_.defined()) return data_;
  uint32_t now = data_.impl()->storage->version;
  if (now != saved_version_) {
    // PyTorch names the node that produced the tensor when it was saved: the saving node itself for an
    // output, the input's grad_fn at save time otherwise (nothing for a leaf).
    std::string who;
    std::string fn_name = is_output_ ? (owner ? owner->name() : "") : (grad_fn_ ? grad_fn_->name() : "");
    if (!fn_name.empty()) who = detail::concat(", which is output ", output_nr_, " of ", fn_name, ",");
    throw Error(detail::concat(
        "one of the variables needed for gradient computation has been modified by an inplace operation: [",
        tensor_type_name(data_.dtype()), " ", shape_str(data_.sizes()), "]", who, " is at version ", now,
        "; expected version ", saved_version_,
        " instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
        "with torch.autograd.set_detect_anomaly(True)."));
  }
  return data_;
}

// ---- AccumulateGrad -------------------------------------------------------------------------------------
std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  auto leaf = leaf_.lock();
  if (!leaf || grads.empty() || !grads[0].defined()) return {};
  Tensor g = std::move(grads[0]);
  Tensor leaf_t(leaf);
  for (auto& hook : leaf->leaf_hooks) {
    Tensor r = hook(g);
    if (r.defined()) g = r;
  }
  if (g.sizes() != leaf->sizes) g = sum_to(g, leaf->sizes);
  if (!leaf->grad) {
    // Steal the incoming gradient when nothing else refers to it, as PyTorch does; otherwise copy.
    if (g.impl_ptr().use_count() == 1 && g.impl()->storage.use_count() == 1 && g.is_contiguous() &&
        g.dtype() == leaf->dtype) {
      leaf->grad = g.impl_ptr();
      leaf->grad->grad_fn.reset();
    } else {
      leaf->grad = g.to(leaf->dtype).clone().detach().impl_ptr();
    }
  } else {
    Tensor(leaf->grad).add_(g);
  }
  return {};
}

// ---- FunctionNode ------------------------------------------------------------------------------------
std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>&& grads) {
  bool any = false;
  for (const auto& g : grads) any = any || g.defined();
  if (!any) return std::vector<Tensor>(next_edges.size());
  return fn_(grads, *this);
}

void FunctionNode::release_variables() {
  for (auto& s : saved_) s.reset();
}

size_t FunctionNode::save(const Tensor& t, bool is_output) {
  saved_.emplace_back(t, is_output);
  return saved_.size() - 1;
}

// ---- wiring ------------------------------------------------------------------------------------------
bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool compute_requires_grad(std::initializer_list<const Tensor*> inputs) {
  return is_grad_enabled() && any_requires_grad(inputs);
}

std::shared_ptr<AccumulateGrad> grad_accumulator(const Tensor& leaf) {
  TensorImpl* impl = leaf.impl();
  auto acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(leaf.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return acc;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined()) return {};
  TensorImpl* impl = t.impl();
  refresh_view_history(impl);
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  if (impl->requires_grad) return {grad_accumulator(t), 0};
  return {};
}

void set_next_edges(Node& node, std::initializer_list<const Tensor*> inputs) {
  node.next_edges.clear();
  node.next_edges.reserve(inputs.size());
  for (const Tensor* t : inputs) node.next_edges.push_back(t ? gradient_edge(*t) : Edge{});
}

void set_history(Tensor& out, const std::shared_ptr<Node>& node, uint32_t output_nr) {
  TensorImpl* impl = out.impl();
  impl->grad_fn = node;
  impl->output_nr = output_nr;
  impl->requires_grad = false;
}

void check_inplace(const Tensor& t) {
  if (!is_grad_enabled()) return;
  TensorImpl* impl = t.impl();
  refresh_view_history(impl);
  if (impl->grad_fn == nullptr && impl->requires_grad)
    throw Error("a leaf Variable that requires grad is being used in an in-place operation.");
  const TensorImpl* base = impl->view_base.get();
  if ((impl->is_view && impl->view_of_leaf) || (base && base->grad_fn == nullptr && base->requires_grad))
    throw Error("a view of a leaf Variable that requires grad is being used in an in-place operation.");
}

void bump_version(const Tensor& t) { ++t.impl()->storage->version; }

namespace {

// Where a view lies in its base: the view's geometry with its offset counted from the base's.
struct ViewGeometry {
  Shape base_sizes, base_strides, sizes, strides;
  int64_t offset;  // view offset - base offset
  Dtype dtype;
};

ViewGeometry geometry_of(const TensorImpl& view) {
  const TensorImpl& base = *view.view_base;
  return {base.sizes, base.strides, view.sizes, view.strides, view.offset - base.offset, base.dtype};
}

// A fresh zeroed buffer laid out like the base (its strides; as many elements as they reach), the base's
// window onto it, and the view's window onto it.
void base_buffer(const ViewGeometry& g, Tensor& base_like, Tensor& view_like) {
  int64_t extent = 1;
  for (size_t d = 0; d < g.base_sizes.size(); ++d) {
    if (g.base_sizes[d] == 0) {
      extent = 0;
      break;
    }
    extent += (g.base_sizes[d] - 1) * g.base_strides[d];
  }
  Tensor buf = zeros({std::max<int64_t>(extent, 1)}, {g.dtype});
  base_like = Tensor(make_view_impl(*buf.impl(), g.base_sizes, g.base_strides, 0));
  view_like = Tensor(make_view_impl(*buf.impl(), g.sizes, g.strides, g.offset));
}

// The gradient of a view with respect to its base: the view's gradient added into a zero base (added, so a
// view that repeats elements, as expand's, sums them).
std::shared_ptr<Node> as_strided_backward(const ViewGeometry& g) {
  return std::make_shared<FunctionNode>(
      "AsStridedBackward0", [g](const std::vector<Tensor>& grads, FunctionNode&) -> std::vector<Tensor> {
        NoGradGuard ng;
        Tensor base_like, view_like;
        base_buffer(g, base_like, view_like);
        view_like.add_(grads[0]);
        return {base_like.contiguous()};
      });
}

// The message PyTorch gives for an in-place op on the output of a function that returned its input as is
// (a module's backward-hook alias).
const char* kAliasInplace =
    "Output 0 of BackwardHookFunctionBackward is a view and is being modified inplace. This view was created "
    "inside a custom Function (or because an input was returned as-is) and the autograd logic to handle "
    "view+inplace would override the custom backward associated with the custom Function, leading to incorrect "
    "gradients. This behavior is forbidden. You can fix this by cloning the output of the custom Function.";

}  // namespace

void refresh_view_history(TensorImpl* impl) {
  if (!impl->view_base || impl->view_version == impl->storage->version) return;
  impl->view_version = impl->storage->version;
  const std::shared_ptr<TensorImpl>& base = impl->view_base;
  // A base without history (a leaf) has not changed what the view's own history says.
  if (!base->grad_fn) return;
  auto node = as_strided_backward(geometry_of(*impl));
  node->next_edges = {Edge{base->grad_fn, base->output_nr}};
  impl->grad_fn = node;
  impl->output_nr = 0;
  impl->requires_grad = false;
  impl->is_view = true;
}

void rebase_history(Tensor& t, const std::shared_ptr<Node>& node) {
  TensorImpl* impl = t.impl();
  if (!impl->view_base) {
    if (impl->is_view) throw Error(kAliasInplace);
    set_history(t, node, 0);
    return;
  }
  const std::shared_ptr<TensorImpl>& base = impl->view_base;
  if (base->is_view) throw Error(kAliasInplace);  // a view of a module's hook alias
  // The base's new history: node's backward on the view's part of the base's gradient, the rest passed on
  // to the base's old history; node's other inputs keep their edges.
  const ViewGeometry g = geometry_of(*impl);
  const Edge base_edge = gradient_edge(Tensor(base));
  std::shared_ptr<Node> fn = node;
  auto copy_slices = std::make_shared<FunctionNode>(
      "CopySlices",
      [g, fn](const std::vector<Tensor>& grads, FunctionNode& self) -> std::vector<Tensor> {
        NoGradGuard ng;
        Tensor base_like, view_like;
        base_buffer(g, base_like, view_like);
        base_like.copy_(grads[0]);
        std::vector<Tensor> res = fn->apply({view_like.clone()});
        if (!res.empty() && res[0].defined())
          view_like.copy_(res[0]);
        else
          view_like.zero_();
        std::vector<Tensor> out(self.next_edges.size());
        out[0] = base_like.contiguous();
        for (size_t i = 1; i < out.size() && i < res.size(); ++i) out[i] = res[i];
        return out;
      });
  copy_slices->next_edges = node->next_edges;
  if (copy_slices->next_edges.empty()) copy_slices->next_edges.resize(1);
  copy_slices->next_edges[0] = base_edge;
  Tensor base_t(base);
  set_history(base_t, copy_slices, 0);
  // The view: its part of the base's new history.
  auto view_node = as_strided_backward(g);
  view_node->next_edges = {Edge{copy_slices, 0}};
  set_history(t, view_node, 0);
  impl->is_view = true;
  impl->view_version = impl->storage->version;
}

}  // namespace actlab::autograd
