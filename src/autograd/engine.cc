// The backward engine: counts each node's dependencies reachable from the roots, then runs nodes in
// topological order (highest sequence number first among the ready ones, as PyTorch), summing the
// gradients that reach the same input.
#include <cmath>
#include <queue>
#include <unordered_map>

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/core/tensor_impl.h"
#include "actlab/ops/ops.h"

namespace actlab::autograd {

namespace {
bool g_anomaly = false;

struct ByPriority {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr() < b->sequence_nr(); }
};

void check_anomaly(const Node& node, const std::vector<Tensor>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& g = outputs[i];
    if (!g.defined() || !g.is_floating_point()) continue;
    if (isnan(g).sum().item<double>() > 0)
      throw Error(detail::concat("Function '", node.name(), "' returned nan values in its ", i, "th output."));
  }
}
}  // namespace

bool anomaly_mode_enabled() { return g_anomaly; }
void set_detect_anomaly(bool on) { g_anomaly = on; }

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NoGradGuard no_grad;
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> root_nodes;
  std::vector<std::shared_ptr<Node>> keep_alive;

  auto add_to_buffer = [&](Node* fn, uint32_t input_nr, Tensor g) {
    auto& buf = buffers[fn];
    if (buf.size() < static_cast<size_t>(fn->num_outputs())) buf.resize(fn->num_outputs());
    if (input_nr >= buf.size()) buf.resize(input_nr + 1);
    if (!buf[input_nr].defined())
      buf[input_nr] = std::move(g);
    else
      buf[input_nr] = buf[input_nr] + g;
  };

  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    if (!root.requires_grad())
      throw Error(detail::concat("element ", i, " of tensors does not require grad and does not have a grad_fn"));
    Tensor g = i < grads.size() ? grads[i] : Tensor();
    if (!g.defined()) {
      if (root.numel() != 1) throw Error("grad can be implicitly created only for scalar outputs");
      g = ones_like(root);
    } else if (g.sizes() != root.sizes()) {
      throw Error(detail::concat("Mismatch in shape: grad_output[", i, "] has a shape of torch.Size(",
                                 shape_str(g.sizes()), ") and output[", i, "] has a shape of torch.Size(",
                                 shape_str(root.sizes()), ")."));
    }
    Edge e = gradient_edge(root);
    keep_alive.push_back(e.fn);
    add_to_buffer(e.fn.get(), e.input_nr, g.detach());
    root_nodes.push_back(e.fn.get());
  }

  // Count dependencies over the reachable graph.
  std::vector<Node*> stack(root_nodes.begin(), root_nodes.end());
  std::unordered_map<Node*, bool> seen;
  for (Node* n : root_nodes) seen[n] = true;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.fn) continue;
      Node* m = e.fn.get();
      ++deps[m];
      if (!seen[m]) {
        seen[m] = true;
        stack.push_back(m);
      }
    }
  }

  std::priority_queue<Node*, std::vector<Node*>, ByPriority> ready;
  for (Node* n : root_nodes)
    if (deps[n] == 0 && seen[n]) {
      ready.push(n);
      seen[n] = false;  // queued once
    }

  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    std::vector<Tensor> grad_outputs = std::move(buffers[node]);
    buffers.erase(node);
    if (grad_outputs.size() < static_cast<size_t>(node->num_outputs())) grad_outputs.resize(node->num_outputs());

    for (auto& [nr, hook] : node->tensor_pre_hooks()) {
      if (nr >= grad_outputs.size() || !grad_outputs[nr].defined()) continue;
      Tensor r = hook(grad_outputs[nr]);
      if (r.defined()) grad_outputs[nr] = r;
    }
    for (auto& hook : node->pre_hooks()) hook(grad_outputs);

    std::vector<Tensor> grad_inputs = node->apply(std::vector<Tensor>(grad_outputs));
    for (auto& hook : node->post_hooks()) hook(grad_inputs, grad_outputs);
    if (g_anomaly) check_anomaly(*node, grad_inputs);
    if (!retain_graph) node->release_variables();

    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.fn) continue;
      Node* m = e.fn.get();
      if (i < grad_inputs.size() && grad_inputs[i].defined()) add_to_buffer(m, e.input_nr, std::move(grad_inputs[i]));
      if (--deps[m] == 0) ready.push(m);
    }
  }
}

}  // namespace actlab::autograd
