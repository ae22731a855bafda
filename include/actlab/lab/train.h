// Training the lab's networks on Fashion-MNIST (or any MNIST-format data): the models of `actlab train`,
// the loop, evaluation, and the metrics it reports. Used by the CLI and by the experiments.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actlab/core/tensor.h"
#include "actlab/dist/process_group.h"
#include "actlab/nn/sequential.h"

namespace actlab::lab {

struct TrainConfig {
  std::string model = "seed-cnn";  // seed-cnn | mlp | cnn
  std::string act = "ReLU";        // any activation spec
  int64_t epochs = 1;
  int64_t batch_size = 64;
  double lr = 0.05;
  double momentum = 0.9;
  std::string optimizer = "sgd";  // sgd | adam
  uint64_t seed = 0;
  std::string data_dir;            // empty: ACTLAB_DATA or /usr/share/datasets/fashion-mnist
  int64_t max_steps = -1;          // stop after this many optimizer steps (all epochs together)
  // mlp
  int64_t depth = 20;
  int64_t width = 128;
  bool batchnorm = false;
  std::string init = "default";    // default | kaiming
  // TensorBoard: scalars (loss, accuracy, lr) every log_every steps and after each epoch; per activation
  // layer a histogram of its outputs and its active and dead fractions on a fixed test batch; gradient
  // histograms of every parameter; images of an input batch and of the first convolution's maps.
  std::string logdir;
  int64_t log_every = 50;
  // Watch every module for the first NaN or Inf, forward and backward (nn::AnomalyGuard); slower.
  bool detect_anomaly = false;
  // Training checkpoints: with save_every > 0, every save_every steps and at the end, `checkpoint` gets the
  // model, the optimizer, the default generator's state, the data loader's position and the history so far
  // (written atomically). `resume` continues from such a file: the run ends with exactly the weights an
  // uninterrupted run with the same settings and thread count ends with. model, act, optimizer, batch_size
  // and seed must match the checkpoint's.
  std::string checkpoint;
  int64_t save_every = 0;
  std::string resume;
  // Data parallelism (`mpirun -np N actlab train`): with a group of N > 1 ranks, each rank trains on its shard of
  // every epoch (data::DataLoaderOptions::num_replicas) with batch_size samples per step, and dist::DataParallel
  // averages the gradients (in buckets of about bucket_bytes, started during backward). The reported losses and
  // accuracies are over all ranks' samples; only rank 0 writes the log directory and checkpoints and reports
  // progress. sync_bn: BatchNorm statistics over all ranks' batches (else each rank's own). Null: one process.
  std::shared_ptr<dist::ProcessGroup> group;
  bool sync_bn = false;
  size_t bucket_bytes = size_t{1} << 20;
};

// The named networks, built with the default generator (seed it first for reproducible weights).
// seed-cnn: the seed's network for 1x28x28 input; mlp: a deep MLP; cnn: the stronger network for accuracy.
std::shared_ptr<nn::Sequential> build_model(const TrainConfig& config, int64_t in_channels = 1, int64_t height = 28,
                                            int64_t width = 28, int64_t num_classes = 10);
// The valid model names, for messages.
const char* model_names();

struct EpochStats {
  int64_t epoch = 0;
  double train_loss = 0;       // mean over the epoch's batches
  double train_accuracy = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double train_seconds = 0;    // this epoch's training time, evaluation excluded
  double images_per_second = 0;
};

struct TrainResult {
  std::vector<EpochStats> history;
  std::vector<double> step_losses;  // every optimizer step's loss
  double test_accuracy = 0;
  double train_loss = 0;
  double train_images_per_second = 0;
  double train_seconds = 0;
  int64_t epochs = 0;
  int64_t steps = 0;
  int world_size = 1;
  std::vector<uint64_t> rank_state_hashes;  // dist::state_hash of the final model on each rank (all equal)
  std::vector<size_t> allreduce_bucket_bytes;  // the gradient buckets all-reduced per step (with world_size > 1)
  // Rank 0's seconds blocked in collectives during training: waiting for gradient buckets after backward, the
  // buffer broadcast, the per-step loss all-reduce (what overlap did not hide; with world_size > 1).
  double communication_seconds = 0;
};

// Progress after each step: epoch, batch index within the epoch, batches per epoch, running loss and
// accuracy over the epoch so far, images per second so far.
using ProgressFn = std::function<void(int64_t epoch, int64_t batch, int64_t batches, double loss, double accuracy,
                                      double images_per_second)>;

// Called on rank 0 after each epoch's evaluation, with that epoch's numbers.
using EpochFn = std::function<void(const EpochStats&)>;

// Normalized images [N, 1, H, W] (ToTensor then Normalize(0.5, 0.5), as the seed does) and int64 labels.
struct Split {
  Tensor images;
  Tensor labels;
};
Split load_split(const std::string& data_dir, bool train);
// The first min(n, size) images and labels of a split (views, no copy).
Split first_rows(const Split& split, int64_t n);

// Trains `model` on `train` and evaluates on `test` after each epoch.
TrainResult train(nn::Sequential& model, const Split& train_split, const Split& test_split, const TrainConfig& config,
                  const ProgressFn& progress = nullptr, const EpochFn& on_epoch = nullptr);

// Loss and accuracy of `model` (in eval mode, without gradients) over a split, in batches.
// With a group, each rank evaluates its contiguous part of the split and the sums are all-reduced.
std::pair<double, double> evaluate(nn::Sequential& model, const Split& split, int64_t batch_size = 1000,
                                   dist::ProcessGroup* group = nullptr);

}  // namespace actlab::lab
