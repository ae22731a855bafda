#include "actlab/data/dataloader.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "actlab/autograd/grad_mode.h"
#include "actlab/core/error.h"
#include "actlab/core/tensor_impl.h"

namespace actlab::data {

namespace {

using detail::concat;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Rows `idx` of a contiguous [N, ...] tensor, as a new [idx.size(), ...] tensor.
Tensor gather_rows(const Tensor& t, const int64_t* idx, int64_t count) {
  Shape s = t.sizes();
  const int64_t n = s[0];
  s[0] = count;
  Tensor out = make_tensor(s, t.dtype());
  const size_t row = n == 0 ? 0 : static_cast<size_t>(t.numel() / n) * element_size(t.dtype());
  const char* src = static_cast<const char*>(t.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t k = 0; k < count; ++k) std::memcpy(dst + k * row, src + static_cast<size_t>(idx[k]) * row, row);
  return out;
}

}  // namespace

// ---- DataLoader -------------------------------------------------------------------------------------------------

DataLoader::DataLoader(Tensor inputs, Tensor targets, DataLoaderOptions options) : opts_(std::move(options)) {
  if (!inputs.defined() || !targets.defined()) throw ValueError("DataLoader: inputs and targets must be defined");
  if (inputs.dim() < 1 || targets.dim() < 1)
    throw ValueError(concat("DataLoader: inputs and targets need a leading sample dimension, got ",
                            shape_str(inputs.sizes()), " and ", shape_str(targets.sizes())));
  if (inputs.size(0) != targets.size(0))
    throw ValueError(concat("Size mismatch between tensors: inputs have ", inputs.size(0), " samples but targets have ",
                            targets.size(0)));
  if (opts_.batch_size < 1)
    throw ValueError(concat("batch_size should be a positive integer value, but got batch_size=", opts_.batch_size));
  if (opts_.prefetch < 1) throw ValueError(concat("DataLoader: prefetch must be at least 1, got ", opts_.prefetch));
  if (opts_.num_replicas < 1 || opts_.rank < 0 || opts_.rank >= opts_.num_replicas)
    throw ValueError(concat("Invalid rank ", opts_.rank, ", rank should be in the interval [0, ", opts_.num_replicas - 1,
                            "]"));
  NoGradGuard ng;
  inputs_ = inputs.detach().contiguous();
  targets_ = targets.detach().contiguous();
  n_ = inputs.size(0);
}

int64_t DataLoader::shard_size() const { return (n_ + opts_.num_replicas - 1) / opts_.num_replicas; }

int64_t DataLoader::len() const {
  const int64_t n = shard_size();
  return opts_.drop_last ? n / opts_.batch_size : (n + opts_.batch_size - 1) / opts_.batch_size;
}

std::vector<int64_t> DataLoader::indices(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  if (!opts_.shuffle) {
    for (int64_t i = 0; i < n_; ++i) order[i] = i;
  } else {
    Generator g(opts_.seed + static_cast<uint64_t>(epoch));
    Tensor perm = randperm(n_, &g);
    std::memcpy(order.data(), perm.data_ptr<int64_t>(), order.size() * sizeof(int64_t));
  }
  if (opts_.num_replicas == 1) return order;
  std::vector<int64_t> shard(static_cast<size_t>(shard_size()));
  for (size_t k = 0; k < shard.size(); ++k)  // position rank + k * replicas of the order padded with itself
    shard[k] = order[static_cast<size_t>(opts_.rank + static_cast<int64_t>(k) * opts_.num_replicas) % order.size()];
  return shard;
}

Generator DataLoader::batch_generator(int64_t epoch, int64_t batch) const {
  uint64_t s = splitmix64(opts_.seed);
  s = splitmix64(s ^ static_cast<uint64_t>(epoch));
  s = splitmix64(s ^ static_cast<uint64_t>(batch));
  return Generator(s);
}

Batch DataLoader::make_batch(const std::vector<int64_t>& order, int64_t e, int64_t b) const {
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t first = b * opts_.batch_size;
  const int64_t count = std::min(opts_.batch_size, n - first);
  Batch batch;
  batch.index = b;
  batch.data = gather_rows(inputs_, order.data() + first, count);
  batch.target = gather_rows(targets_, order.data() + first, count);
  if (opts_.transform) {
    Generator g = batch_generator(e, b);
    opts_.transform(batch, g);
  }
  return batch;
}

Batch DataLoader::get_batch(int64_t e, int64_t b) const {
  if (b < 0 || b >= len()) throw IndexError(concat("batch ", b, " is out of range for a loader of ", len(), " batches"));
  NoGradGuard ng;
  return make_batch(indices(e), e, b);
}

// ---- Epoch ------------------------------------------------------------------------------------------------------

struct Epoch::State {
  DataLoader loader;  // a cheap copy (shared tensors), so the epoch outlives nothing it needs
  std::vector<int64_t> order;
  int64_t epoch = 0, next_batch = 0, end_batch = 0;

  std::mutex mu;
  std::condition_variable cv;
  struct Item {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  std::deque<Item> queue;
  bool stop = false, producer_done = false, consumer_done = false;
  std::thread worker;

  explicit State(const DataLoader& l) : loader(l) {}

  Batch build(int64_t b) { return loader.make_batch(order, epoch, b); }

  void run() {
    NoGradGuard ng;
    for (int64_t b = next_batch; b < end_batch; ++b) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || static_cast<int64_t>(queue.size()) < loader.options().prefetch; });
        if (stop) return;
      }
      Item item;
      try {
        item.batch = build(b);
      } catch (...) {
        item.error = std::current_exception();
      }
      const bool failed = item.error != nullptr;
      {
        std::lock_guard<std::mutex> lock(mu);
        queue.push_back(std::move(item));
        if (failed) producer_done = true;
      }
      cv.notify_all();
      if (failed) return;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      producer_done = true;
    }
    cv.notify_all();
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (worker.joinable()) worker.join();
  }
};

Epoch::Epoch(std::shared_ptr<State> s) : state_(std::move(s)) {
  if (!state_->loader.options().background) return;
  if (state_->next_batch < state_->end_batch)
    state_->worker = std::thread([st = state_.get()] { st->run(); });
  else
    state_->producer_done = true;
}

Epoch::Epoch(Epoch&&) noexcept = default;

Epoch& Epoch::operator=(Epoch&& o) noexcept {
  if (this != &o) {
    if (state_) state_->shutdown();
    state_ = std::move(o.state_);
  }
  return *this;
}

Epoch::~Epoch() {
  if (state_) state_->shutdown();
}

std::optional<Batch> Epoch::next() {
  if (!state_) return std::nullopt;
  State& s = *state_;
  if (s.consumer_done) return std::nullopt;
  if (!s.loader.options().background) {
    if (s.next_batch >= s.end_batch) {
      s.consumer_done = true;
      return std::nullopt;
    }
    NoGradGuard ng;
    try {
      return s.build(s.next_batch++);
    } catch (...) {
      s.consumer_done = true;
      throw;
    }
  }
  State::Item item;
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.cv.wait(lock, [&] { return !s.queue.empty() || s.producer_done; });
    if (s.queue.empty()) {
      s.consumer_done = true;
      return std::nullopt;
    }
    item = std::move(s.queue.front());
    s.queue.pop_front();
  }
  s.cv.notify_all();
  if (item.error) {
    s.consumer_done = true;
    std::rethrow_exception(item.error);
  }
  return std::move(item.batch);
}

Epoch DataLoader::epoch(int64_t e, int64_t start_batch) const {
  if (start_batch < 0 || start_batch > len())
    throw IndexError(concat("start batch ", start_batch, " is out of range for a loader of ", len(), " batches"));
  auto s = std::make_shared<Epoch::State>(*this);
  s->order = indices(e);
  s->epoch = e;
  s->next_batch = start_batch;
  s->end_batch = len();
  return Epoch(std::move(s));
}

}  // namespace actlab::data
