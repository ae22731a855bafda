// DataLoader over an in-memory data set given as two tensors (inputs [N, ...], targets [N]), as
// torch.utils.data.DataLoader with a TensorDataset: batches, seeded shuffling, drop_last, an optional
// per-batch transform, and batches prepared ahead on a background thread.
//
//   data::DataLoader loader(images, labels, {.batch_size = 64, .shuffle = true, .seed = 1});
//   for (int64_t e = 0; e < epochs; ++e)
//     for (auto& batch : loader.epoch(e)) { model(batch.data); ... batch.target ... }
//
// Determinism: the order of epoch e is randperm(N) drawn from Generator(seed + e) (identity order without
// shuffle), and the transform of batch b of epoch e draws from batch_generator(e, b); so an epoch's batches are
// the same whatever thread prepares them and whether the epoch was started from the beginning or resumed at
// batch b (epoch(e, b)).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "actlab/core/tensor.h"

namespace actlab::data {

struct Batch {
  Tensor data;     // [B, ...] rows of the inputs, in epoch order
  Tensor target;   // [B] rows of the targets
  int64_t index = 0;  // the batch's position within its epoch (0-based)
};

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  uint64_t seed = 0;
  bool drop_last = false;
  // Applied to each batch on the worker thread (e.g. a transforms::Compose's apply_batch); it may replace
  // batch.data and batch.target. The generator is batch_generator(epoch, batch.index).
  std::function<void(Batch&, Generator&)> transform;
  // Prepare batches on a background thread (a bounded queue of `prefetch` batches); false: on the caller's
  // thread, on demand.
  bool background = true;
  int64_t prefetch = 2;
  // Data parallelism, as torch.utils.data.DistributedSampler: this loader yields rank `rank`'s shard of
  // `num_replicas`. Each epoch's order (the same permutation on every rank) is padded with its own first
  // entries to a multiple of num_replicas, and rank r takes positions r, r + num_replicas, r + 2 num_replicas, ...
  // So batch b of every rank together are batch b of a single loader with num_replicas times the batch size.
  int64_t num_replicas = 1;
  int64_t rank = 0;
};

class DataLoader;

// One pass over the data. Move-only; destroying it (or leaving a range-for early) stops and joins the
// worker. An exception thrown while preparing a batch (by the transform, say) is rethrown by next() in
// the consumer, in batch order.
class Epoch {
 public:
  Epoch(Epoch&&) noexcept;
  Epoch& operator=(Epoch&&) noexcept;
  Epoch(const Epoch&) = delete;
  Epoch& operator=(const Epoch&) = delete;
  ~Epoch();

  // The next batch, or nullopt after the last.
  std::optional<Batch> next();

  class iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(Epoch* e) : epoch_(e) { ++*this; }
    Batch& operator*() { return *current_; }
    Batch* operator->() { return &*current_; }
    iterator& operator++() {
      current_ = epoch_->next();
      if (!current_) epoch_ = nullptr;
      return *this;
    }
    bool operator==(const iterator& o) const { return epoch_ == o.epoch_; }
    bool operator!=(const iterator& o) const { return epoch_ != o.epoch_; }

   private:
    Epoch* epoch_ = nullptr;
    std::optional<Batch> current_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

  struct State;

 private:
  friend class DataLoader;
  explicit Epoch(std::shared_ptr<State> s);
  std::shared_ptr<State> state_;
};

class DataLoader {
 public:
  // inputs [N, ...] and targets [N] (any dtypes; usually float32 images and int64 labels). The tensors are
  // shared, not copied (made contiguous once). Throws ValueError on a size mismatch or batch_size < 1.
  DataLoader(Tensor inputs, Tensor targets, DataLoaderOptions options = {});

  // Number of batches per epoch: ceil(N / batch_size), or floor(N / batch_size) with drop_last.
  int64_t len() const;
  // Number of samples N (of the whole data set, not of this rank's shard).
  int64_t size() const { return n_; }
  // Number of samples in this rank's shard per epoch: ceil(N / num_replicas).
  int64_t shard_size() const;
  const DataLoaderOptions& options() const { return opts_; }

  // The sample indices of epoch e, in order (all shard_size() of them, including a dropped last partial batch).
  std::vector<int64_t> indices(int64_t epoch) const;
  // The generator a batch's transform draws from: seeded from (seed, epoch, batch).
  Generator batch_generator(int64_t epoch, int64_t batch) const;

  // Starts epoch e at batch `start_batch` (0 <= start_batch <= len(); len() gives an empty epoch).
  Epoch epoch(int64_t e, int64_t start_batch = 0) const;

  // Batch b of epoch e, built on the calling thread (what epoch(e) yields at position b).
  Batch get_batch(int64_t e, int64_t b) const;

 private:
  friend struct Epoch::State;
  Batch make_batch(const std::vector<int64_t>& order, int64_t e, int64_t b) const;

  Tensor inputs_, targets_;
  DataLoaderOptions opts_;
  int64_t n_ = 0;
};

}  // namespace actlab::data
