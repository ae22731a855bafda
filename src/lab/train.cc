#include "actlab/lab/train.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "actlab/autograd/grad_mode.h"
#include "actlab/data/dataloader.h"
#include "actlab/data/mnist.h"
#include "actlab/dist/data_parallel.h"
#include "actlab/lab/probe.h"
#include "actlab/tensorboard/summary_writer.h"
#include "actlab/nn/activation.h"
#include "actlab/nn/anomaly.h"
#include "actlab/nn/checkpoint.h"
#include "actlab/nn/fusion.h"
#include "actlab/nn/init.h"
#include "actlab/nn/layers.h"
#include "actlab/nn/loss.h"
#include "actlab/ops/ops.h"
#include "actlab/optim/adam.h"
#include "actlab/optim/sgd.h"

namespace actlab::lab {

namespace {

bool all_finite(const Tensor& t) { return isfinite(t).to(kFloat32).min().item<double>() > 0; }

std::shared_ptr<nn::Module> act(const nn::ActivationSpec& spec) { return nn::make_activation(spec); }

// kaiming init's nonlinearity for an activation (the gains PyTorch defines; others use relu's).
void kaiming_init(nn::Sequential& model, const nn::ActivationSpec& spec) {
  std::string nonlinearity = "relu";
  double a = 0;
  switch (spec.id) {
    case kernels::ActId::LeakyReLU:
      nonlinearity = "leaky_relu";
      a = spec.values[0];
      break;
    case kernels::ActId::Tanh: nonlinearity = "tanh"; break;
    case kernels::ActId::Sigmoid: nonlinearity = "sigmoid"; break;
    case kernels::ActId::SELU: nonlinearity = "selu"; break;
    default: break;
  }
  for (auto& [name, p] : model.named_parameters()) {
    Tensor t = p;
    if (name.size() > 7 && name.substr(name.size() - 7) == ".weight" && t.dim() >= 2) {
      nn::init::kaiming_normal_(t, a, "fan_in", nonlinearity);
    } else if (name.size() > 5 && name.substr(name.size() - 5) == ".bias" && t.dim() == 1) {
      // BatchNorm biases are zero already; Linear/Conv biases start at zero under kaiming init.
      nn::init::zeros_(t);
    }
  }
}

// Exact text for doubles and generator words in checkpoint metadata.
std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}
double parse_exact(const std::string& s, const std::string& what) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0') throw ValueError(detail::concat("training checkpoint: bad ", what, " '", s, "'"));
  return v;
}
int64_t parse_int(const std::string& s, const std::string& what) {
  return static_cast<int64_t>(parse_exact(s, what));
}

// The running sums of an epoch, saved mid-epoch so a resumed epoch reports the same statistics.
struct EpochSums {
  double loss_sum = 0;
  int64_t seen = 0, correct = 0, batches = 0;
  double seconds = 0;
};

std::string encode_rng(const Generator::State& st) {
  return detail::concat(st.s[0], " ", st.s[1], " ", st.s[2], " ", st.s[3], " ", st.seed, " ", st.has_spare ? 1 : 0, " ",
                        exact(st.spare));
}
Generator::State decode_rng(const std::string& text) {
  std::istringstream in(text);
  Generator::State st{};
  int spare = 0;
  std::string spare_value;
  in >> st.s[0] >> st.s[1] >> st.s[2] >> st.s[3] >> st.seed >> spare >> spare_value;
  if (!in) throw ValueError("training checkpoint: bad generator state");
  st.has_spare = spare != 0;
  st.spare = parse_exact(spare_value, "generator state");
  return st;
}

std::string encode_history(const std::vector<EpochStats>& history) {
  std::string out;
  for (const auto& e : history)
    out += detail::concat(e.epoch, " ", exact(e.train_loss), " ", exact(e.train_accuracy), " ", exact(e.test_loss), " ",
                          exact(e.test_accuracy), " ", exact(e.train_seconds), " ", exact(e.images_per_second), "\n");
  return out;
}
std::vector<EpochStats> decode_history(const std::string& text) {
  std::vector<EpochStats> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    EpochStats e;
    std::string v[6];
    f >> e.epoch >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5];
    if (!f) throw ValueError("training checkpoint: bad history line '" + line + "'");
    e.train_loss = parse_exact(v[0], "history");
    e.train_accuracy = parse_exact(v[1], "history");
    e.test_loss = parse_exact(v[2], "history");
    e.test_accuracy = parse_exact(v[3], "history");
    e.train_seconds = parse_exact(v[4], "history");
    e.images_per_second = parse_exact(v[5], "history");
    out.push_back(e);
  }
  return out;
}

// The settings a resumed run must share with the checkpoint (the others, e.g. epochs or max_steps, may change).
std::map<std::string, std::string> identity(const TrainConfig& c) {
  return {{"model", c.model},
          {"act", nn::parse_activation_spec(c.act).to_string()},
          {"optimizer", c.optimizer},
          {"batch_size", std::to_string(c.batch_size)},
          {"seed", std::to_string(c.seed)},
          {"world_size", std::to_string(c.group ? c.group->size() : 1)}};
}

}  // namespace

const char* model_names() { return "seed-cnn, mlp, cnn"; }

std::shared_ptr<nn::Sequential> build_model(const TrainConfig& c, int64_t in_channels, int64_t height, int64_t width,
                                            int64_t num_classes) {
  nn::ActivationSpec spec = nn::parse_activation_spec(c.act);
  auto model = std::make_shared<nn::Sequential>();
  if (c.model == "seed-cnn") {
    model->push_back(std::make_shared<nn::Conv2d>(in_channels, 16, 3, nn::Conv2dOptions{.padding = 1}));
    model->push_back(std::make_shared<nn::BatchNorm2d>(16));
    model->push_back(act(spec));
    model->push_back(std::make_shared<nn::MaxPool2d>(2));
    model->push_back(std::make_shared<nn::Conv2d>(16, 32, 3, nn::Conv2dOptions{.padding = 1}));
    model->push_back(act(spec));
    model->push_back(std::make_shared<nn::AdaptiveAvgPool2d>(1));
    model->push_back(std::make_shared<nn::Flatten>());
    model->push_back(std::make_shared<nn::Linear>(32, num_classes));
  } else if (c.model == "mlp") {
    if (c.depth < 1) throw ValueError(detail::concat("--depth must be at least 1, got ", c.depth));
    if (c.width < 1) throw ValueError(detail::concat("--width must be at least 1, got ", c.width));
    model->push_back(std::make_shared<nn::Flatten>());
    int64_t in = in_channels * height * width;
    for (int64_t i = 0; i < c.depth; ++i) {
      model->push_back(std::make_shared<nn::Linear>(in, c.width));
      if (c.batchnorm) model->push_back(std::make_shared<nn::BatchNorm1d>(c.width));
      model->push_back(act(spec));
      in = c.width;
    }
    model->push_back(std::make_shared<nn::Linear>(in, num_classes));
  } else if (c.model == "cnn") {
    // Two VGG-style blocks of two 3x3 convolutions with BatchNorm, then a small classifier with dropout.
    int64_t ch = in_channels;
    for (int64_t out : {int64_t{32}, int64_t{64}}) {
      for (int k = 0; k < 2; ++k) {
        model->push_back(std::make_shared<nn::Conv2d>(ch, out, 3, nn::Conv2dOptions{.padding = 1, .bias = false}));
        model->push_back(std::make_shared<nn::BatchNorm2d>(out));
        model->push_back(act(spec));
        ch = out;
      }
      model->push_back(std::make_shared<nn::MaxPool2d>(2));
    }
    model->push_back(std::make_shared<nn::Dropout>(0.25));
    model->push_back(std::make_shared<nn::Flatten>());
    model->push_back(std::make_shared<nn::Linear>(ch * (height / 4) * (width / 4), 256));
    model->push_back(std::make_shared<nn::BatchNorm1d>(256));
    model->push_back(act(spec));
    model->push_back(std::make_shared<nn::Dropout>(0.5));
    model->push_back(std::make_shared<nn::Linear>(256, num_classes));
  } else {
    throw ValueError(detail::concat("unknown model '", c.model, "'; valid models: ", model_names()));
  }
  if (c.init == "kaiming")
    kaiming_init(*model, spec);
  else if (c.init != "default")
    throw ValueError(detail::concat("unknown init '", c.init, "'; valid: default, kaiming"));
  return model;
}

Split load_split(const std::string& data_dir, bool train) {
  data::FashionMNIST ds(data_dir.empty() ? data::default_data_dir() : data_dir, train);
  Tensor x = ds.images_as_float();  // [N, 1, H, W] in [0, 1]
  {
    NoGradGuard ng;
    x.add_(-0.5).div_(0.5);  // Normalize(0.5, 0.5)
  }
  return {x, ds.labels()};
}

Split first_rows(const Split& s, int64_t n) {
  int64_t rows = std::min(n, s.images.size(0));
  return {s.images.narrow(0, 0, rows), s.labels.narrow(0, 0, rows)};
}

std::pair<double, double> evaluate(nn::Sequential& model, const Split& split, int64_t batch_size,
                                   dist::ProcessGroup* group) {
  bool was_training = model.is_training();
  model.eval();
  NoGradGuard ng;
  // Conv2d + BatchNorm2d pairs folded into one convolution (pairs with hooks stay as they are).
  std::shared_ptr<nn::Sequential> fused = nn::utils::fuse_conv_bn_eval(model);
  int64_t n = split.images.sizes()[0];
  double loss_sum = 0;
  int64_t correct = 0;
  const int64_t ranks = group ? group->size() : 1, rank = group ? group->rank() : 0;
  const int64_t end = n * (rank + 1) / ranks;
  for (int64_t start = n * rank / ranks; start < end; start += batch_size) {
    int64_t len = std::min(batch_size, end - start);
    Tensor x = split.images.narrow(0, start, len);
    Tensor y = split.labels.narrow(0, start, len);
    Tensor out = (*fused)(x);
    loss_sum += nn::functional::cross_entropy(out, y, {.reduction = "sum"}).item<double>();
    correct += (out.argmax(1) == y).sum().item<int64_t>();
  }
  if (ranks > 1) {
    double sums[2] = {loss_sum, static_cast<double>(correct)};
    group->allreduce_sum(sums, 2);
    loss_sum = sums[0];
    correct = static_cast<int64_t>(sums[1]);
  }
  model.train(was_training);
  return {loss_sum / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

TrainResult train(nn::Sequential& model, const Split& tr, const Split& te, const TrainConfig& c,
                  const ProgressFn& progress, const EpochFn& on_epoch) {
  if (c.epochs < 1) throw ValueError(detail::concat("--epochs must be at least 1, got ", c.epochs));
  if (c.batch_size < 1) throw ValueError(detail::concat("--batch-size must be at least 1, got ", c.batch_size));
  if (!(c.lr > 0) || !std::isfinite(c.lr)) throw ValueError(detail::concat("--lr must be positive, got ", c.lr));
  std::unique_ptr<optim::Optimizer> opt;
  if (c.optimizer == "sgd")
    opt = std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = c.lr, .momentum = c.momentum});
  else if (c.optimizer == "adam")
    opt = std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions{.lr = c.lr});
  else
    throw ValueError(detail::concat("unknown optimizer '", c.optimizer, "'; valid: sgd, adam"));

  std::shared_ptr<dist::ProcessGroup> group = c.group ? c.group : dist::single_process();
  const int world = group->size(), rank = group->rank();
  data::DataLoaderOptions lo{.batch_size = c.batch_size, .shuffle = true, .seed = c.seed, .num_replicas = world,
                             .rank = rank};
  data::DataLoader loader(tr.images, tr.labels, lo);
  nn::CrossEntropyLoss criterion;
  TrainResult r;
  std::unique_ptr<tensorboard::SummaryWriter> writer;
  Tensor probe_batch;
  if (!c.logdir.empty() && c.log_every < 1)
    throw ValueError(detail::concat("--log-every must be at least 1, got ", c.log_every));
  if (!c.logdir.empty() && rank == 0) {  // only rank 0 writes
    writer = std::make_unique<tensorboard::SummaryWriter>(c.logdir);
    probe_batch = te.images.narrow(0, 0, std::min<int64_t>(256, te.images.size(0))).contiguous();
    writer->add_images("input_batch", (probe_batch.narrow(0, 0, std::min<int64_t>(16, probe_batch.size(0))) + 1.0) / 2.0, 0);
    writer->add_text("config", detail::concat("model ", c.model, ", act ", c.act, ", optimizer ", c.optimizer, ", lr ",
                                              c.lr, ", batch ", c.batch_size, ", seed ", c.seed));
  }
  auto log_probes = [&](int64_t step) {
    auto probes = probe_activations(model, probe_batch);
    for (const auto& p : probes) {
      if (!all_finite(p.output))
        throw Error(detail::concat("training diverged: the outputs of ", p.name, " are not finite at step ", step,
                                   "; try a smaller --lr"));
      writer->add_histogram("activations/" + p.name, p.output, step);
      writer->add_scalar("active_fraction/" + p.name, p.active_fraction, step);
      writer->add_scalar("dead_fraction/" + p.name, p.dead_fraction, step);
    }
    // The first convolution's activation maps for the first test image, one tile per channel.
    for (const auto& [name, child] : model.named_children()) {
      if (child->type_name() != "Conv2d") continue;
      NoGradGuard ng;
      bool was_training = model.is_training();
      model.eval();
      Tensor maps = (*child)(probe_batch.narrow(0, 0, 1)).detach();  // [1, C, H, W]
      model.train(was_training);
      Tensor lo = maps.min(), hi = maps.max();
      Tensor scaled = (maps - lo) / (hi - lo + 1e-12);
      writer->add_images("first_conv_maps", scaled.permute({1, 0, 2, 3}).contiguous(), step);
      break;
    }
  };
  std::unique_ptr<nn::AnomalyGuard> anomaly;
  if (c.detect_anomaly) anomaly = std::make_unique<nn::AnomalyGuard>(model);
  if (c.save_every < 0) throw ValueError(detail::concat("--save-every must be at least 1, got ", c.save_every));
  if (c.save_every > 0 && c.checkpoint.empty()) throw ValueError("--save-every needs a checkpoint file (--save FILE)");

  // Resuming: model, optimizer, generator, position and history from a training checkpoint.
  int64_t start_epoch = 0, start_batch = 0;
  EpochSums resumed;
  if (!c.resume.empty()) {
    nn::Checkpoint ck = nn::load(c.resume);
    auto meta = [&](const std::string& key) -> const std::string& {
      auto it = ck.metadata.find(key);
      if (it == ck.metadata.end())
        throw ValueError(detail::concat("cannot resume from ", c.resume, ": it is not a training checkpoint (no '", key,
                                        "'; write one with --save FILE --save-every N)"));
      return it->second;
    };
    if (meta("kind") != nn::kTrainingCheckpointKind)
      throw ValueError(detail::concat("cannot resume from ", c.resume, ": it is not a training checkpoint"));
    if (!ck.metadata.count("world_size")) ck.metadata["world_size"] = "1";  // written before data parallelism
    for (const auto& [key, value] : identity(c))
      if (meta(key) != value)
        throw ValueError(detail::concat("cannot resume from ", c.resume, ": it was saved with ", key, " ", meta(key),
                                        ", this run has ", value));
    nn::StateDict model_state;
    optim::OptimizerStateDict opt_state;
    for (auto& [name, t] : ck.tensors) {
      if (name.rfind("model.", 0) == 0) model_state.emplace_back(name.substr(6), t);
      else if (name.rfind("optim.", 0) == 0) opt_state.emplace_back(name.substr(6), t);
    }
    model.load_state_dict(model_state);
    opt->load_state_dict(opt_state);
    default_generator().set_state(decode_rng(meta("rng")));
    start_epoch = parse_int(meta("epoch"), "epoch");
    start_batch = parse_int(meta("batch"), "batch");
    r.steps = parse_int(meta("steps"), "steps");
    resumed = {parse_exact(meta("epoch_loss_sum"), "epoch_loss_sum"), parse_int(meta("epoch_seen"), "epoch_seen"),
               parse_int(meta("epoch_correct"), "epoch_correct"), parse_int(meta("epoch_batches"), "epoch_batches"),
               parse_exact(meta("epoch_seconds"), "epoch_seconds")};
    r.history = decode_history(meta("history"));
    // A run stopped by max_steps mid-epoch recorded that partial epoch; resuming it with more steps finishes the
    // epoch anew (a run that has nothing left to do keeps its history as it was).
    if (!(c.max_steps >= 0 && r.steps >= c.max_steps))
      std::erase_if(r.history, [&](const EpochStats& e) { return e.epoch > start_epoch; });
    if (Tensor sl = ck.find("run.step_losses"); sl.defined()) r.step_losses = sl.to_vector();
    if (start_epoch < 0 || start_batch < 0 || start_batch > loader.len() || r.steps < 0)
      throw ValueError(detail::concat("cannot resume from ", c.resume, ": its position (epoch ", start_epoch, ", batch ",
                                      start_batch, ") does not fit this data"));
    for (const auto& e : r.history) {
      r.train_seconds += e.train_seconds;
      r.train_loss = e.train_loss;
      r.test_accuracy = e.test_accuracy;
      r.epochs = e.epoch;
    }
  }
  auto save_checkpoint = [&](int64_t epoch, int64_t next_batch, const EpochSums& sums) {
    if (rank != 0) return;  // every rank holds the same state; rank 0 writes it
    nn::StateDict tensors;
    for (auto& [name, t] : model.state_dict()) tensors.emplace_back("model." + name, t);
    for (auto& [name, t] : opt->state_dict()) tensors.emplace_back("optim." + name, t);
    tensors.emplace_back("run.step_losses",
                         from_data(r.step_losses, {static_cast<int64_t>(r.step_losses.size())}, {.dtype = kFloat64}));
    std::map<std::string, std::string> meta = identity(c);
    meta["kind"] = nn::kTrainingCheckpointKind;
    meta["epoch"] = std::to_string(epoch);
    meta["batch"] = std::to_string(next_batch);
    meta["steps"] = std::to_string(r.steps);
    meta["rng"] = encode_rng(default_generator().get_state());
    meta["epoch_loss_sum"] = exact(sums.loss_sum);
    meta["epoch_seen"] = std::to_string(sums.seen);
    meta["epoch_correct"] = std::to_string(sums.correct);
    meta["epoch_batches"] = std::to_string(sums.batches);
    meta["epoch_seconds"] = exact(sums.seconds);
    meta["history"] = encode_history(r.history);
    nn::save(tensors, c.checkpoint, meta);
  };

  // Every rank starts from rank 0's state; gradients are averaged over the ranks.
  dist::DataParallel ddp(model, group, {.bucket_bytes = c.bucket_bytes, .sync_batchnorm = c.sync_bn});
  using clock = std::chrono::steady_clock;
  double step_allreduce_seconds = 0;
  int64_t last_epoch = start_epoch, last_batch = start_batch;
  EpochSums last_sums = resumed;
  for (int64_t epoch = start_epoch; epoch < c.epochs; ++epoch) {
    if (c.max_steps >= 0 && r.steps >= c.max_steps) break;  // a resumed run that had already finished
    model.train();
    EpochStats es;
    es.epoch = epoch + 1;
    EpochSums sums = epoch == start_epoch ? resumed : EpochSums{};
    double& loss_sum = sums.loss_sum;
    int64_t &seen = sums.seen, &correct = sums.correct, &batches = sums.batches;
    auto t0 = clock::now();
    auto elapsed = [&] { return sums.seconds + std::chrono::duration<double>(clock::now() - t0).count(); };
    bool stop = false;
    for (auto& batch : loader.epoch(epoch, epoch == start_epoch ? start_batch : 0)) {
      Tensor out, loss;
      try {
        ddp.before_forward();
        out = model(batch.data);
        loss = criterion(out, batch.target);
        opt->zero_grad();
        loss.backward();
        ddp.after_backward();
      } catch (const Error& e) {
        if (!anomaly) throw;
        // Name the step, and the module whose backward autograd's own NaN check stopped in.
        std::string msg = e.what(), where = anomaly->backward_context();
        if (msg.rfind("anomaly detected", 0) != 0) msg = "anomaly detected: " + msg + (where.empty() ? "" : " (in " + where + ")");
        throw Error(detail::concat(msg, "; epoch ", epoch + 1, " step ", r.steps + 1));
      }
      // Loss (the mean of the ranks' means: the global mean, as the ranks' batches are equally large), correct
      // predictions and images over all ranks; every rank sees the same values and so stops at the same point.
      double step_sums[3] = {loss.item<double>(), 0, static_cast<double>(batch.target.numel())};
      {
        NoGradGuard ng;
        step_sums[1] = static_cast<double>((out.argmax(1) == batch.target).sum().item<int64_t>());
      }
      {
        auto c0 = clock::now();
        group->allreduce_sum(step_sums, 3);
        step_allreduce_seconds += std::chrono::duration<double>(clock::now() - c0).count();
      }
      double l = step_sums[0] / world;
      auto diverged = [&](const std::string& what) {
        return Error(detail::concat("training diverged: ", what, " at epoch ", epoch + 1, " step ", r.steps + 1,
                                    "; try a smaller --lr"));
      };
      if (!std::isfinite(l)) throw diverged(detail::concat("the loss is ", l));
      if (writer && (r.steps + 1) % c.log_every == 0)
        for (auto& [name, p] : model.named_parameters()) {
          Tensor g = p.grad();
          if (!g.defined()) continue;
          if (!all_finite(g)) throw diverged("the gradient of " + name + " is not finite");
          writer->add_histogram("gradients/" + name, g, r.steps + 1);
        }
      opt->step();
      int64_t b = static_cast<int64_t>(step_sums[2]);
      correct += static_cast<int64_t>(step_sums[1]);
      loss_sum += l;
      seen += b;
      ++batches;
      ++r.steps;
      r.step_losses.push_back(l);
      if (writer && r.steps % c.log_every == 0) {
        writer->add_scalar("loss/train", l, r.steps);
        writer->add_scalar("accuracy/train", static_cast<double>(correct) / static_cast<double>(seen), r.steps);
        writer->add_scalar("lr", opt->lr(), r.steps);
      }
      double secs = elapsed();
      last_epoch = epoch;
      last_batch = batch.index + 1;
      last_sums = {loss_sum, seen, correct, batches, secs};
      if (c.save_every > 0 && r.steps % c.save_every == 0) save_checkpoint(epoch, batch.index + 1, last_sums);
      if (progress && rank == 0)
        progress(epoch + 1, batch.index + 1, loader.len(), loss_sum / static_cast<double>(batches),
                 static_cast<double>(correct) / static_cast<double>(seen), static_cast<double>(seen) / secs);
      if (c.max_steps >= 0 && r.steps >= c.max_steps) {
        stop = true;
        break;
      }
    }
    es.train_seconds = elapsed();
    es.train_loss = batches ? loss_sum / static_cast<double>(batches) : 0;
    es.train_accuracy = seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0;
    es.images_per_second = es.train_seconds > 0 ? static_cast<double>(seen) / es.train_seconds : 0;
    ddp.sync_buffers();  // every rank evaluates (its part of the test set) with rank 0's running statistics
    auto [tl, ta] = evaluate(model, te, 1000, group.get());
    es.test_loss = tl;
    es.test_accuracy = ta;
    r.history.push_back(es);
    if (on_epoch && rank == 0) on_epoch(es);
    if (writer) {
      writer->add_scalar("loss/test", tl, r.steps);
      writer->add_scalar("accuracy/test", ta, r.steps);
      writer->add_scalar("loss/train_epoch", es.train_loss, r.steps);
      writer->add_scalar("accuracy/train_epoch", es.train_accuracy, r.steps);
      log_probes(r.steps);
      writer->flush();
    }
    r.train_seconds += es.train_seconds;
    r.train_loss = es.train_loss;
    r.test_accuracy = ta;
    r.epochs = epoch + 1;
    if (!stop) {
      last_epoch = epoch + 1;
      last_batch = 0;
      last_sums = {};
    }
    if (stop) break;
  }
  // The final state: resuming from it continues where this run stopped (or does nothing when it finished).
  if (c.save_every > 0) save_checkpoint(last_epoch, last_batch, last_sums);
  int64_t images = 0;
  for (const auto& e : r.history) images += static_cast<int64_t>(e.images_per_second * e.train_seconds + 0.5);
  r.train_images_per_second = r.train_seconds > 0 ? static_cast<double>(images) / r.train_seconds : 0;
  // Every rank must end with the same parameters and buffers; say so loudly if they do not.
  ddp.sync_buffers();
  r.world_size = world;
  if (world > 1) {
    r.allreduce_bucket_bytes = ddp.bucket_sizes();
    r.communication_seconds = ddp.blocked_seconds() + step_allreduce_seconds;
  }
  const uint64_t hash = dist::state_hash(model);
  r.rank_state_hashes.assign(static_cast<size_t>(world), 0);
  group->allgather(&hash, sizeof hash, r.rank_state_hashes.data());
  for (uint64_t h : r.rank_state_hashes)
    if (h != r.rank_state_hashes[0])
      throw Error("data parallel training ended with different parameters on different ranks (a bug in actlab)");
  return r;
}

}  // namespace actlab::lab
