// Data-parallel training of one model over the ranks of a ProcessGroup, as torch.nn.parallel.
// DistributedDataParallel: the same initial state everywhere (broadcast from rank 0), gradients averaged over
// ranks by all-reduce before each optimizer step, in buckets started while backward is still running.
//
//   dist::DataParallel ddp(model, dist::world(), {.sync_batchnorm = false});
//   for (batch of this rank's shard) {
//     ddp.before_forward();            // rank 0's buffers (BatchNorm running statistics) to every rank
//     loss = criterion(model(x), y);
//     opt.zero_grad();
//     loss.backward();                 // buckets start as soon as their gradients are accumulated
//     ddp.after_backward();            // waits for the buckets; p.grad() is now the average over ranks
//     opt.step();
//   }
//
// Buckets: the parameters in reverse registration order (the order backward reaches them), a new bucket when the
// next gradient would pass bucket_bytes (a parameter larger than that gets a bucket of its own). A bucket starts
// (MPI_Iallreduce) when every gradient in it has been accumulated and every earlier bucket has started, so ranks
// start them in the same order. Parameters that receive no gradient on a step get the average of the others'
// (zeros when no rank used them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "actlab/dist/process_group.h"
#include "actlab/nn/module.h"

namespace actlab::dist {

struct DataParallelOptions {
  size_t bucket_bytes = size_t{1} << 20;  // PyTorch's first bucket is 1 MiB
  bool sync_batchnorm = false;            // BatchNorm statistics over all ranks' batches (SyncBatchNorm)
  bool broadcast_buffers = true;          // rank 0's buffers to every rank before each forward (DDP's default)
};

class DataParallel {
 public:
  // Broadcasts rank 0's parameters and buffers and registers the gradient hooks. The model must outlive this.
  DataParallel(nn::Module& model, std::shared_ptr<ProcessGroup> group, DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  void before_forward();  // sync_buffers() (with broadcast_buffers)
  void after_backward();
  // Rank 0's buffers to every rank: the running statistics each rank's last forward updated with its own batch.
  // Call it before evaluating or comparing the model across ranks.
  void sync_buffers();

  ProcessGroup& group() { return *group_; }
  // Bytes of each bucket, in the order they start (for docs/scaling.md and tests).
  std::vector<size_t> bucket_sizes() const;
  // Buckets started from inside backward on the last step (the rest started in after_backward).
  int64_t buckets_started_in_backward() const;
  // Seconds this rank has spent blocked in after_backward (waiting for the buckets: communication that backward
  // did not hide) and in sync_buffers, since construction.
  double blocked_seconds() const;

  struct State;

 private:
  nn::Module& model_;
  std::shared_ptr<ProcessGroup> group_;
  DataParallelOptions opt_;
  std::shared_ptr<State> state_;
};

// Copies rank `root`'s parameters and buffers to every rank.
void broadcast_state(nn::Module& model, ProcessGroup& group, int root = 0);
// FNV-1a over the bytes of every parameter and buffer in state_dict order: equal on every rank after a run.
uint64_t state_hash(nn::Module& model);

}  // namespace actlab::dist
