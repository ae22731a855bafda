// actlab train: train one of the lab's networks on Fashion-MNIST and report test accuracy and speed.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "actlab/actlab.h"
#include "actlab/core/file.h"
#include "actlab/dist/process_group.h"
#include "actlab/lab/train.h"
#include "actlab/nn/activation.h"
#include "actlab/nn/checkpoint.h"
#include "cli/cli.h"

namespace actlab::cli {

namespace {
struct TrainOptions {
  lab::TrainConfig config;
  int threads = 0;
  std::string metrics_json;
  std::string save;
  double bucket_mb = 1.0;
};

void draw_progress(int64_t epoch, int64_t epochs, int64_t batch, int64_t batches, double loss, double acc, double ips) {
  constexpr int kWidth = 30;
  int filled = static_cast<int>(kWidth * batch / std::max<int64_t>(batches, 1));
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\repoch %lld/%lld [%s] %lld/%lld loss %.4f acc %.4f %.0f img/s ",
               static_cast<long long>(epoch), static_cast<long long>(epochs), bar.c_str(),
               static_cast<long long>(batch), static_cast<long long>(batches), loss, acc, ips);
  std::fflush(stderr);
}

int run_train(TrainOptions* opt, const std::shared_ptr<dist::ProcessGroup>& group);
}  // namespace

void add_train(CLI::App& app, Action& action) {
  auto opt = std::make_shared<TrainOptions>();
  lab::TrainConfig& c = opt->config;
  CLI::App* sub = app.add_subcommand("train", "train a network on Fashion-MNIST");
  sub->add_option("--model", c.model, "seed-cnn | mlp | cnn")->required();
  sub->add_option("--act", c.act, "activation spec for every hidden layer, e.g. ReLU, LeakyReLU(0.2)")->required();
  sub->add_option("--epochs", c.epochs, "epochs (default 1)")->check(CLI::Range(int64_t{1}, int64_t{100000}));
  sub->add_option("--batch-size", c.batch_size, "batch size (default 64)")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--lr", c.lr, "learning rate (default 0.05)");
  sub->add_option("--momentum", c.momentum, "SGD momentum (default 0.9)")->check(CLI::Range(0.0, 1.0));
  sub->add_option("--optimizer", c.optimizer, "sgd | adam (default sgd)")->check(CLI::IsMember({"sgd", "adam"}));
  sub->add_option("--seed", c.seed, "seed for weights, shuffling and dropout (default 0)");
  sub->add_option("--threads", opt->threads, "threads (default: all cores)")->check(CLI::Range(1, 1024));
  sub->add_option("--data", c.data_dir, "MNIST-format data directory (default: $ACTLAB_DATA or /usr/share/datasets/fashion-mnist)");
  sub->add_option("--max-steps", c.max_steps, "stop after this many optimizer steps")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_option("--depth", c.depth, "mlp: hidden layers (default 20)")->check(CLI::Range(int64_t{1}, int64_t{1000}));
  sub->add_option("--width", c.width, "mlp: units per hidden layer (default 128)")->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  sub->add_flag("--batchnorm", c.batchnorm, "mlp: BatchNorm1d after every hidden Linear");
  sub->add_option("--init", c.init, "mlp/any: default | kaiming")->check(CLI::IsMember({"default", "kaiming"}));
  sub->add_option("--metrics-json", opt->metrics_json, "write the metrics as JSON to this file");
  sub->add_option("--logdir", c.logdir, "write TensorBoard event files here (scalars, histograms, images)");
  sub->add_option("--log-every", c.log_every, "log training scalars and gradient histograms every N steps (default 50)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  sub->add_flag("--detect-anomaly", c.detect_anomaly,
               "stop at the first NaN or Inf in any module's output or gradient, naming the module and op (slower)");
  sub->add_option("--save", opt->save, "save the trained model's state to this checkpoint file");
  sub->add_option("--save-every", c.save_every,
                  "with --save: write a training checkpoint (model, optimizer, generator, data position) every N steps "
                  "and at the end")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  sub->add_flag("--sync-bn", c.sync_bn,
               "under mpirun: BatchNorm statistics over every rank's batch (SyncBatchNorm); default: each rank's own");
  sub->add_option("--bucket-mb", opt->bucket_mb,
                  "under mpirun: gradients are all-reduced in buckets of about this many MiB, started during backward "
                  "(default 1)")
      ->check(CLI::Range(1.0 / 1024, 1024.0));
  sub->add_option("--resume", c.resume, "continue the run saved in this training checkpoint (same --model, --act, "
                                        "--optimizer, --batch-size, --seed)");
  sub->callback([&action, opt] {
    action = [opt]() -> int {
      // Under mpirun, this process is one rank of the run; a failure on one rank ends them all (the others would
      // wait for it forever in the next collective).
      std::shared_ptr<dist::ProcessGroup> group = dist::world();
      if (group->size() == 1) return run_train(opt.get(), group);
      try {
        return run_train(opt.get(), group);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "actlab: error: %s (rank %d of %d)\n", e.what(), group->rank(), group->size());
        std::fflush(stderr);
        group->abort(1);
      }
      return 1;  // not reached: abort() ends the process
    };
  });
}

namespace {
int run_train(TrainOptions* opt, const std::shared_ptr<dist::ProcessGroup>& group) {
  lab::TrainConfig& c = opt->config;
  const bool rank0 = group->rank() == 0;
  if (c.sync_bn && group->size() == 1)
    throw ValueError("--sync-bn synchronizes BatchNorm over the ranks of an MPI run, and this run has one process "
                     "(start it with mpirun -np N in an actlab built with MPI)");
  c.group = group;
  c.bucket_bytes = static_cast<size_t>(opt->bucket_mb * 1024 * 1024);
  if (opt->threads > 0) set_num_threads(opt->threads);
  if (c.save_every > 0) {
    if (opt->save.empty()) throw ValueError("--save-every needs --save FILE");
    c.checkpoint = opt->save;
  }
  nn::parse_activation_spec(c.act);  // a bad spec fails before the data is read
  manual_seed(c.seed);
  auto model = lab::build_model(c);
  lab::Split train = lab::load_split(c.data_dir, true);
  lab::Split test = lab::load_split(c.data_dir, false);
  bool tty = stderr_is_tty() && rank0;  // only rank 0 reports progress
  lab::ProgressFn progress;
  if (tty)
    progress = [&](int64_t e, int64_t b, int64_t n, double loss, double acc, double ips) {
      if (b % 10 == 0 || b == n) draw_progress(e, c.epochs, b, n, loss, acc, ips);
    };
  // Each epoch's line as soon as it is evaluated (a log of a long run shows progress without a terminal).
  lab::EpochFn on_epoch = [&](const lab::EpochStats& e) {
    if (tty) std::fprintf(stderr, "\n");  // below the progress bar
    std::printf("epoch %lld: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1f s, %.0f img/s\n",
                static_cast<long long>(e.epoch), e.train_loss, e.train_accuracy, e.test_loss, e.test_accuracy,
                e.train_seconds, e.images_per_second);
    std::fflush(stdout);
  };
  lab::TrainResult r = lab::train(*model, train, test, c, progress, on_epoch);
  if (!rank0) return 0;  // every rank has the same model and metrics; rank 0 prints and writes them
  AtomicFileSet files;
  if (!opt->metrics_json.empty()) {
    nlohmann::json history = nlohmann::json::array();
    for (const auto& e : r.history)
      history.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy},
                         {"test_loss", e.test_loss}, {"test_accuracy", e.test_accuracy},
                         {"train_seconds", e.train_seconds}, {"images_per_second", e.images_per_second}});
    nlohmann::json hashes = nlohmann::json::array();
    for (uint64_t h : r.rank_state_hashes) {
      char hex[24];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
      hashes.push_back(hex);
    }
    int64_t parameters = 0;
    for (const auto& p : model->parameters()) parameters += p.numel();
    nlohmann::json j = {{"test_accuracy", r.test_accuracy},
                        {"parameters", parameters},
                        {"train_loss", r.train_loss},
                        {"train_images_per_second", r.train_images_per_second},
                        {"train_seconds", r.train_seconds},
                        {"epochs", r.epochs},
                        {"steps", r.steps},
                        {"world_size", r.world_size},
                        {"rank_state_hashes", hashes},
                        {"allreduce_bucket_bytes", r.allreduce_bucket_bytes},
                        {"communication_seconds", r.communication_seconds},
                        {"history", history},
                        {"config",
                         {{"model", c.model}, {"act", nn::parse_activation_spec(c.act).to_string()},
                          {"batch_size", c.batch_size}, {"lr", c.lr}, {"momentum", c.momentum},
                          {"optimizer", c.optimizer}, {"seed", c.seed}, {"threads", get_num_threads()},
                          {"max_steps", c.max_steps}, {"init", c.init}, {"sync_bn", c.sync_bn},
                          {"global_batch_size", c.batch_size * r.world_size}}}};
    if (c.model == "mlp") {
      j["config"]["depth"] = c.depth;
      j["config"]["width"] = c.width;
      j["config"]["batchnorm"] = c.batchnorm;
    }
    std::string text = j.dump(2) + "\n";
    files.add(opt->metrics_json, text.data(), text.size());
  }
  files.commit();
  if (!opt->save.empty() && c.save_every == 0)  // with --save-every, train() wrote the final checkpoint
    nn::save_module(*model, opt->save, {{"model", c.model}, {"act", c.act}});
  return 0;
}
}  // namespace

}  // namespace actlab::cli
