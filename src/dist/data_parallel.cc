// dist::DataParallel: DistributedDataParallel's broadcast, gradient buckets and all-reduce, over any ProcessGroup.
#include "actlab/dist/data_parallel.h"

#include <chrono>
#include <cstring>
#include <exception>

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/core/error.h"
#include "actlab/nn/layers.h"

namespace actlab::dist {

namespace {

void check_float_contiguous(const std::string& what, const Tensor& t) {
  if (!t.is_contiguous())
    throw ValueError(detail::concat("data parallel training needs contiguous tensors; ", what, " is not"));
}

}  // namespace

struct DataParallel::State {
  std::shared_ptr<ProcessGroup> group;
  std::vector<Tensor> params;  // registration order
  struct Bucket {
    std::vector<size_t> members;  // indices into params, in the order backward reaches them
    std::vector<size_t> offsets;  // of each member in buf
    size_t numel = 0;
    std::vector<float> buf;       // numel floats, allocated only when there is more than one rank
    size_t pending = 0;           // members whose gradient has not been accumulated yet this step
    std::unique_ptr<Work> work;
  };
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of;
  std::vector<char> ready;
  size_t next_to_start = 0;
  int64_t started_in_backward = 0, last_started_in_backward = 0;
  double blocked_seconds = 0;
  std::vector<std::shared_ptr<autograd::AccumulateGrad>> accumulators;  // keep the hooked nodes alive

  void start(size_t b) {
    Bucket& bk = buckets[b];
    for (size_t k = 0; k < bk.members.size(); ++k) {
      const Tensor& p = params[bk.members[k]];
      Tensor g = p.grad();
      float* dst = bk.buf.data() + bk.offsets[k];
      const size_t n = static_cast<size_t>(p.numel());
      if (g.defined()) {
        Tensor gc = g.contiguous();
        std::memcpy(dst, gc.raw_data(), n * sizeof(float));
      } else {
        std::memset(dst, 0, n * sizeof(float));  // no gradient on this rank: it adds nothing to the sum
      }
    }
    bk.work = group->iallreduce_sum(bk.buf.data(), bk.buf.size());
  }
  // Starts every bucket that is complete and whose predecessors have started: the same order on every rank.
  void start_ready() {
    while (next_to_start < buckets.size() && buckets[next_to_start].pending == 0) start(next_to_start++);
  }
  // The hook: parameter i's gradient is accumulated.
  void mark_ready(size_t i) {
    if (ready[i]) return;
    ready[i] = 1;
    --buckets[bucket_of[i]].pending;
    size_t before = next_to_start;
    start_ready();
    started_in_backward += static_cast<int64_t>(next_to_start - before);
    // Let the buckets in flight advance while backward goes on (MPI progresses inside MPI calls).
    for (size_t b = 0; b < next_to_start; ++b)
      if (buckets[b].work) buckets[b].work->test();
  }
  void reset() {
    std::fill(ready.begin(), ready.end(), 0);
    for (auto& bk : buckets) {
      bk.pending = bk.members.size();
      bk.work.reset();
    }
    next_to_start = 0;
    last_started_in_backward = started_in_backward;
    started_in_backward = 0;
  }
};

DataParallel::DataParallel(nn::Module& model, std::shared_ptr<ProcessGroup> group, DataParallelOptions options)
    : model_(model), group_(std::move(group)), opt_(options), state_(std::make_shared<State>()) {
  if (!group_) throw ValueError("DataParallel: the process group is null");
  State& s = *state_;
  s.group = group_;
  for (auto& [name, p] : model_.named_parameters()) {
    if (!p.requires_grad()) continue;
    if (p.dtype() != kFloat32)
      throw ValueError(detail::concat("data parallel training needs float32 parameters; ", name, " is ",
                                      dtype_name(p.dtype())));
    check_float_contiguous("parameter " + name, p);
    s.params.push_back(p);
  }
  // Buckets in reverse registration order, about bucket_bytes each.
  s.bucket_of.assign(s.params.size(), 0);
  size_t bytes = 0;
  for (size_t j = s.params.size(); j-- > 0;) {
    const size_t n = static_cast<size_t>(s.params[j].numel());
    if (s.buckets.empty() || (bytes > 0 && bytes + n * sizeof(float) > opt_.bucket_bytes)) {
      s.buckets.emplace_back();
      bytes = 0;
    }
    auto& bk = s.buckets.back();
    bk.members.push_back(j);
    bk.offsets.push_back(bk.numel);
    bk.numel += n;
    bytes += n * sizeof(float);
    s.bucket_of[j] = s.buckets.size() - 1;
  }
  s.ready.assign(s.params.size(), 0);
  s.reset();

  broadcast_state(model_, *group_, 0);
  if (opt_.sync_batchnorm)
    for (auto& [name, m] : model_.named_modules())
      if (auto* bn = dynamic_cast<nn::BatchNormBase*>(m)) bn->set_sync_group(group_);

  if (group_->size() == 1) return;  // nothing to average: no hooks, the single-process path unchanged
  for (auto& bk : s.buckets) bk.buf.resize(bk.numel);
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < s.params.size(); ++i) {
    auto acc = autograd::grad_accumulator(s.params[i]);
    acc->add_post_hook([weak, i](std::vector<Tensor>&, const std::vector<Tensor>&) {
      if (auto st = weak.lock()) st->mark_ready(i);
    });
    s.accumulators.push_back(std::move(acc));
  }
}

DataParallel::~DataParallel() {
  if (std::uncaught_exceptions() > 0) {
    // An error on this rank, maybe in the middle of backward: the other ranks may never join the buckets in flight,
    // so waiting for them could hang. They and their buffers are left for the end of the process, which the
    // caller's abort brings (the CLI ends every rank on an error).
    for (auto& bk : state_->buckets) (void)bk.work.release();
    (void)new std::shared_ptr<State>(state_);
  } else {
    // Collectives in flight finish before their buffers go (the hooks see an expired state from now on).
    for (auto& bk : state_->buckets)
      if (bk.work) bk.work->wait();
  }
  for (auto& [name, m] : model_.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNormBase*>(m)) bn->set_sync_group(nullptr);
}

void DataParallel::before_forward() {
  if (opt_.broadcast_buffers) sync_buffers();
}

void DataParallel::sync_buffers() {
  if (group_->size() == 1) return;
  auto t0 = std::chrono::steady_clock::now();
  // One broadcast of all buffers packed together: one latency per step, not one per buffer.
  std::vector<Tensor> buffers;
  size_t bytes = 0;
  for (auto& [name, b] : model_.named_buffers()) {
    if (!b.defined()) continue;
    check_float_contiguous("buffer " + name, b);
    buffers.push_back(b);
    bytes += static_cast<size_t>(b.numel()) * element_size(b.dtype());
  }
  if (bytes == 0) return;  // no buffers (an MLP without BatchNorm): no collective at all
  std::vector<char> packed(bytes);
  size_t at = 0;
  for (const auto& b : buffers) {
    const size_t n = static_cast<size_t>(b.numel()) * element_size(b.dtype());
    std::memcpy(packed.data() + at, b.raw_data(), n);
    at += n;
  }
  group_->broadcast(packed.data(), bytes, 0);
  at = 0;
  for (auto& b : buffers) {
    const size_t n = static_cast<size_t>(b.numel()) * element_size(b.dtype());
    std::memcpy(b.raw_data(), packed.data() + at, n);
    at += n;
  }
  state_->blocked_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void DataParallel::after_backward() {
  if (group_->size() == 1) return;
  auto t0 = std::chrono::steady_clock::now();
  State& s = *state_;
  // Buckets whose parameters got no gradient this step start now, in order.
  while (s.next_to_start < s.buckets.size()) s.start(s.next_to_start++);
  const float world = static_cast<float>(group_->size());
  NoGradGuard ng;
  for (auto& bk : s.buckets) {
    bk.work->wait();
    for (size_t k = 0; k < bk.members.size(); ++k) {
      Tensor& p = s.params[bk.members[k]];
      const float* src = bk.buf.data() + bk.offsets[k];
      Tensor g = p.grad();
      if (!g.defined() || !g.is_contiguous() || g.dtype() != kFloat32) {
        g = zeros(p.sizes());
        p.set_grad(g);
      }
      float* dst = g.data_ptr<float>();
      for (int64_t e = 0; e < p.numel(); ++e) dst[e] = src[e] / world;
    }
  }
  s.reset();
  s.blocked_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double DataParallel::blocked_seconds() const { return state_->blocked_seconds; }

std::vector<size_t> DataParallel::bucket_sizes() const {
  std::vector<size_t> out;
  for (const auto& bk : state_->buckets) out.push_back(bk.numel * sizeof(float));
  return out;
}

int64_t DataParallel::buckets_started_in_backward() const { return state_->last_started_in_backward; }

void broadcast_state(nn::Module& model, ProcessGroup& group, int root) {
  if (group.size() == 1) return;
  NoGradGuard ng;
  for (auto& [name, t] : model.state_dict()) {
    if (!t.defined()) continue;
    check_float_contiguous(name, t);
    group.broadcast(t.raw_data(), static_cast<size_t>(t.numel()) * element_size(t.dtype()), root);
  }
}

uint64_t state_hash(nn::Module& model) {
  uint64_t h = 1469598103934665603ULL;
  for (auto& [name, t] : model.state_dict()) {
    if (!t.defined()) continue;
    Tensor c = t.contiguous();
    const auto* p = static_cast<const unsigned char*>(c.raw_data());
    const size_t n = static_cast<size_t>(c.numel()) * element_size(c.dtype());
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  }
  return h;
}

}  // namespace actlab::dist
