#include "actlab/lab/guide.h"

#include <cmath>
#include <cstring>
#include <memory>

#include "actlab/autograd/grad_mode.h"
#include "actlab/data/dataloader.h"
#include "actlab/lab/measure.h"
#include "actlab/lab/probe.h"
#include "actlab/nn/activation.h"
#include "actlab/nn/functional.h"
#include "actlab/nn/layers.h"
#include "actlab/nn/loss.h"
#include "actlab/nn/rnn.h"
#include "actlab/ops/ops.h"
#include "actlab/optim/adam.h"
#include "actlab/optim/sgd.h"
#include "actlab/tensorboard/summary_writer.h"

namespace actlab::lab {

namespace F = nn::functional;
constexpr int64_t kClasses = 10;  // the multiclass row's output units (Fashion-MNIST's classes)

namespace {

// Runs `step(batch)` for `steps` optimizer steps, cycling through shuffled epochs of (inputs, targets).
// step returns false to stop early (a diverged loss).
template <class Step>
void for_steps(const Tensor& inputs, const Tensor& targets, const GuideBudget& b, Step&& step) {
  data::DataLoader loader(inputs, targets, {.batch_size = b.batch_size, .shuffle = true, .seed = b.seed});
  int64_t done = 0;
  for (int64_t epoch = 0; done < b.steps; ++epoch) {
    for (auto& batch : loader.epoch(epoch)) {
      if (!step(batch)) return;
      if (++done >= b.steps) return;
    }
  }
}

std::shared_ptr<nn::Sequential> mlp(int64_t in, int64_t hidden, int64_t out, const std::string& act) {
  auto m = std::make_shared<nn::Sequential>();
  m->push_back(std::make_shared<nn::Flatten>());
  m->push_back(std::make_shared<nn::Linear>(in, hidden));
  m->push_back(nn::make_activation(act));
  m->push_back(std::make_shared<nn::Linear>(hidden, out));
  return m;
}

// model(x) over a split in batches, without gradients, in eval mode.
Tensor predict(nn::Module& model, const Tensor& images, int64_t batch = 1000) {
  NoGradGuard ng;
  bool was = model.is_training();
  model.eval();
  std::vector<Tensor> outs;
  for (int64_t s = 0; s < images.size(0); s += batch)
    outs.push_back(model(images.narrow(0, s, std::min(batch, images.size(0) - s))));
  model.train(was);
  return cat(outs, 0);
}

std::unique_ptr<tensorboard::SummaryWriter> writer_for(const std::string& logdir, const std::string& run) {
  if (logdir.empty()) return nullptr;
  return std::make_unique<tensorboard::SummaryWriter>(logdir + "/" + run);
}

double params_grad_norm(const std::vector<Tensor>& params) {
  double s = 0;
  for (const auto& p : params)
    if (p.grad().defined()) {
      double n = l2_norm(p.grad());
      s += n * n;
    }
  return std::sqrt(s);
}

// One-hot float targets [N, C] from int64 labels.
Tensor one_hot(const Tensor& labels, int64_t classes) {
  Tensor l = labels.contiguous();
  Tensor out = zeros({l.numel(), classes});
  const int64_t* lp = l.data_ptr<int64_t>();
  float* o = out.data_ptr<float>();
  for (int64_t i = 0; i < l.numel(); ++i) o[i * classes + lp[i]] = 1.0f;
  return out;
}

// SGD (lr 0.05, momentum 0.9) for the budget's steps on loss_of(model(inputs), targets); the loss of every step,
// logged every 10 steps when there is a writer.
template <class LossFn>
std::vector<double> fit_sgd(nn::Module& model, const Tensor& inputs, const Tensor& targets, const GuideBudget& b,
                            tensorboard::SummaryWriter* w, LossFn&& loss_of) {
  optim::SGD opt(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  std::vector<double> losses;
  for_steps(inputs, targets, b, [&](data::Batch& batch) {
    Tensor loss = loss_of(model(batch.data), batch.target);
    opt.zero_grad();
    loss.backward();
    opt.step();
    losses.push_back(loss.item<double>());
    if (w && losses.size() % 10 == 0) w->add_scalar("loss/train", losses.back(), static_cast<int64_t>(losses.size()));
    return true;
  });
  return losses;
}

}  // namespace

double expected_calibration_error(const std::vector<double>& confidence, const std::vector<double>& correct) {
  if (confidence.size() != correct.size()) throw ValueError("expected_calibration_error: sizes differ");
  if (confidence.empty()) return 0;
  constexpr int kBins = 10;
  double conf_sum[kBins] = {}, acc_sum[kBins] = {};
  int64_t count[kBins] = {};
  for (size_t i = 0; i < confidence.size(); ++i) {
    int b = std::clamp(static_cast<int>(confidence[i] * kBins), 0, kBins - 1);
    conf_sum[b] += confidence[i];
    acc_sum[b] += correct[i];
    ++count[b];
  }
  double ece = 0;
  for (int b = 0; b < kBins; ++b)
    if (count[b]) ece += std::abs(acc_sum[b] - conf_sum[b]) / static_cast<double>(confidence.size());
  return ece;
}

Split select_two_classes(const Split& split, int64_t a, int64_t b) {
  Tensor labels = split.labels.contiguous();
  Tensor images = split.images.contiguous();
  const int64_t* lp = labels.data_ptr<int64_t>();
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < labels.numel(); ++i)
    if (lp[i] == a || lp[i] == b) rows.push_back(i);
  if (rows.empty())
    throw ValueError(detail::concat("the data has no images of class ", a, " or ", b));
  Shape shape = images.sizes();
  int64_t row = images.numel() / shape[0];
  shape[0] = static_cast<int64_t>(rows.size());
  Tensor out = empty(shape);
  Tensor target = empty({shape[0], 1});
  const float* src = images.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  float* t = target.data_ptr<float>();
  for (size_t k = 0; k < rows.size(); ++k) {
    std::memcpy(dst + static_cast<int64_t>(k) * row, src + rows[k] * row, sizeof(float) * static_cast<size_t>(row));
    t[k] = lp[rows[k]] == a ? 0.0f : 1.0f;
  }
  return {out, target};
}

BinaryResult binary_experiment(const Split& train, const Split& test, int64_t class_a, int64_t class_b,
                               const GuideBudget& b, const std::string& logdir) {
  BinaryResult r;
  r.class_a = class_a;
  r.class_b = class_b;
  Split tr = select_two_classes(train, class_a, class_b);
  Split te = first_rows(select_two_classes(test, class_a, class_b), b.eval_images);
  r.train_images = tr.images.size(0);
  r.test_images = te.images.size(0);
  int64_t in = tr.images.numel() / tr.images.size(0);
  for (bool with_sigmoid : {true, false}) {
    BinaryVariant v;
    v.name = with_sigmoid ? "Sigmoid + BCELoss" : "logits + BCEWithLogitsLoss";
    // The loss of a batch of logits, the way this variant computes it.
    auto loss_of = [with_sigmoid](const Tensor& logits, const Tensor& y) {
      return with_sigmoid ? F::binary_cross_entropy(F::sigmoid(logits), y)
                          : F::binary_cross_entropy_with_logits(logits, y);
    };
    manual_seed(b.seed);
    auto model = mlp(in, 128, 1, "ReLU");
    auto w = writer_for(logdir, with_sigmoid ? "binary-sigmoid-bceloss" : "binary-logits-bcewithlogits");
    v.losses = fit_sgd(*model, tr.images, tr.labels, b, w.get(), loss_of);
    Tensor p = F::sigmoid(predict(*model, te.images)).reshape({-1});
    std::vector<double> pv = p.to_vector(), yv = te.labels.reshape({-1}).to_vector(), conf, correct;
    for (size_t i = 0; i < pv.size(); ++i) {
      bool pred = pv[i] > 0.5;
      conf.push_back(pred ? pv[i] : 1 - pv[i]);
      correct.push_back(pred == (yv[i] > 0.5) ? 1.0 : 0.0);
      v.test_accuracy += correct.back();
    }
    v.test_accuracy /= static_cast<double>(std::max<size_t>(pv.size(), 1));
    v.ece = expected_calibration_error(conf, correct);
    Tensor x = tensor({-120.0}).requires_grad_(true);
    Tensor sat = loss_of(x, tensor({1.0}));
    sat.backward();
    v.saturated_loss = sat.item<double>();
    v.saturated_grad = x.grad().item<double>();
    if (w) {
      w->add_scalar("accuracy/test", v.test_accuracy, static_cast<int64_t>(v.losses.size()));
      w->add_scalar("calibration_error/test", v.ece, static_cast<int64_t>(v.losses.size()));
      w->add_histogram("predicted_probability/test", p, static_cast<int64_t>(v.losses.size()));
    }
    r.variants.push_back(std::move(v));
  }
  return r;
}

MulticlassResult multiclass_experiment(const Split& train, const Split& test, const GuideBudget& b,
                                       const std::string& logdir) {
  MulticlassResult r;
  Split te = first_rows(test, b.eval_images);
  int64_t in = train.images.numel() / train.images.size(0);
  for (bool softmax : {true, false}) {
    MulticlassVariant v;
    v.name = softmax ? "Softmax (cross-entropy)" : "independent Sigmoids (one-vs-rest BCE)";
    manual_seed(b.seed);
    auto model = mlp(in, 128, kClasses, "ReLU");
    auto w = writer_for(logdir, softmax ? "multiclass-softmax" : "multiclass-sigmoids");
    v.losses = fit_sgd(*model, train.images, train.labels, b, w.get(), [softmax](const Tensor& logits, const Tensor& y) {
      return softmax ? F::cross_entropy(logits, y) : F::binary_cross_entropy_with_logits(logits, one_hot(y, kClasses));
    });
    Tensor logits = predict(*model, te.images);
    Tensor probs = softmax ? F::softmax(logits, 1) : F::sigmoid(logits);
    Tensor top = probs.max(1), pred = probs.argmax(1);
    std::vector<double> conf = top.to_vector(), correct = (pred == te.labels).to(kFloat64).to_vector();
    std::vector<double> sums = probs.to(kFloat64).sum({1}).to_vector();
    for (size_t i = 0; i < sums.size(); ++i) {
      v.test_accuracy += correct[i];
      v.mean_abs_sum_deviation += std::abs(sums[i] - 1.0);
    }
    double n = static_cast<double>(std::max<size_t>(sums.size(), 1));
    v.test_accuracy /= n;
    v.mean_abs_sum_deviation /= n;
    v.ece = expected_calibration_error(conf, correct);
    if (w) {
      w->add_scalar("accuracy/test", v.test_accuracy, static_cast<int64_t>(v.losses.size()));
      w->add_histogram("probability_sum/test", from_data(sums, {static_cast<int64_t>(sums.size())}),
                       static_cast<int64_t>(v.losses.size()));
    }
    r.variants.push_back(std::move(v));
  }
  return r;
}

namespace {

// An RNN over the rows of an image (batch_first, T = rows, features = columns) and a classifier on the last state.
struct RowRnn {
  std::shared_ptr<nn::RNN> rnn;
  std::shared_ptr<nn::Linear> fc;
  Tensor operator()(const Tensor& images) const {
    Tensor seq = images.reshape({images.size(0), images.size(-2), images.size(-1)});
    Tensor out = rnn->forward_with_state(seq).output;  // [N, T, H]
    return (*fc)(out.select(1, out.size(1) - 1));
  }
  std::vector<Tensor> parameters() const {
    auto p = rnn->parameters();
    for (auto& q : fc->parameters()) p.push_back(q);
    return p;
  }
};

// ||dL/dx_t|| for every row t of a fixed batch.
std::vector<double> grad_through_time(const RowRnn& m, const Tensor& images, const Tensor& labels) {
  Tensor x = images.reshape({images.size(0), images.size(-2), images.size(-1)}).detach().clone().requires_grad_(true);
  Tensor loss = F::cross_entropy(m(x), labels);
  loss.backward();
  std::vector<double> norms;
  Tensor g = x.grad();
  for (int64_t t = 0; t < g.size(1); ++t) norms.push_back(l2_norm(g.select(1, t)));
  for (auto& p : m.parameters()) p.set_grad(Tensor());
  return norms;
}

}  // namespace

RnnResult rnn_experiment(const Split& train, const Split& test, const GuideBudget& b, const std::string& logdir,
                         int64_t hidden_size, double lr) {
  RnnResult r;
  r.hidden_size = hidden_size;
  r.lr = lr;
  Split te = first_rows(test, b.eval_images);
  Split probe = first_rows(test, 256);
  int64_t cols = train.images.size(-1);
  for (const char* nl : {"tanh", "relu"}) {
    RnnVariant v;
    v.nonlinearity = nl;
    manual_seed(b.seed);
    RowRnn m{std::make_shared<nn::RNN>(cols, hidden_size, nn::RNNOptions{.nonlinearity = nl, .batch_first = true}),
             std::make_shared<nn::Linear>(hidden_size, 10)};
    v.grad_norm_through_time_init = grad_through_time(m, probe.images, probe.labels);
    auto params = m.parameters();
    optim::SGD opt(params, {.lr = lr, .momentum = 0.9});
    auto w = writer_for(logdir, std::string("rnn-") + nl);
    for_steps(train.images, train.labels, b, [&](data::Batch& batch) {
      Tensor loss = F::cross_entropy(m(batch.data), batch.target);
      opt.zero_grad();
      loss.backward();
      double l = loss.item<double>();
      double gn = params_grad_norm(params);
      if (!std::isfinite(l) || !std::isfinite(gn)) {
        v.diverged = true;
        v.diverged_at_step = static_cast<int64_t>(v.losses.size()) + 1;
        return false;
      }
      opt.step();
      v.losses.push_back(l);
      v.grad_norms.push_back(gn);
      v.max_grad_norm = std::max(v.max_grad_norm, gn);
      if (w && v.losses.size() % 10 == 0) {
        w->add_scalar("loss/train", l, static_cast<int64_t>(v.losses.size()));
        w->add_scalar("grad_norm/train", gn, static_cast<int64_t>(v.losses.size()));
      }
      return true;
    });
    if (!v.diverged) v.grad_norm_through_time_trained = grad_through_time(m, probe.images, probe.labels);
    {
      NoGradGuard ng;
      int64_t correct = 0;
      for (int64_t s = 0; s < te.images.size(0); s += 1000) {
        int64_t len = std::min<int64_t>(1000, te.images.size(0) - s);
        correct += (m(te.images.narrow(0, s, len)).argmax(1) == te.labels.narrow(0, s, len)).sum().item<int64_t>();
      }
      v.test_accuracy = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(te.images.size(0), 1));
    }
    if (w) {
      w->add_scalar("accuracy/test", v.test_accuracy, static_cast<int64_t>(v.losses.size()));
      for (size_t t = 0; t < v.grad_norm_through_time_init.size(); ++t)
        w->add_scalar("grad_norm_through_time/init", v.grad_norm_through_time_init[t], static_cast<int64_t>(t));
      for (size_t t = 0; t < v.grad_norm_through_time_trained.size(); ++t)
        w->add_scalar("grad_norm_through_time/trained", v.grad_norm_through_time_trained[t], static_cast<int64_t>(t));
    }
    r.variants.push_back(std::move(v));
  }
  return r;
}

GanResult gan_experiment(const Split& train, const GuideBudget& b, const std::string& logdir) {
  GanResult r;
  constexpr int64_t kLatent = 64;
  Shape image_shape = train.images.sizes();
  int64_t pixels = train.images.numel() / image_shape[0];
  for (const char* act : {"ReLU", "LeakyReLU(0.2)"}) {
    GanVariant v;
    v.discriminator_act = act;
    manual_seed(b.seed);
    nn::Sequential g;
    g.push_back(std::make_shared<nn::Linear>(kLatent, 256));
    g.push_back(nn::make_activation("ReLU"));
    g.push_back(std::make_shared<nn::Linear>(256, pixels));
    g.push_back(nn::make_activation("Tanh"));
    auto d = mlp(pixels, 256, 1, act);
    optim::Adam opt_g(g.parameters(), {.lr = 2e-4, .betas = {0.5, 0.999}});
    optim::Adam opt_d(d->parameters(), {.lr = 2e-4, .betas = {0.5, 0.999}});
    auto w = writer_for(logdir, std::string("gan-d-") + (act[0] == 'R' ? "relu" : "leakyrelu"));
    Tensor fixed_z = randn({16, kLatent});
    Tensor last_real, last_fake;
    auto log_samples = [&](int64_t step) {
      if (!w) return;
      NoGradGuard ng;
      Tensor s = g(fixed_z).reshape({16, 1, image_shape[2], image_shape[3]});
      w->add_images("generated", (s + 1.0) / 2.0, step);
    };
    for_steps(train.images, train.labels, b, [&](data::Batch& batch) {
      Tensor real = batch.data;
      int64_t n = real.size(0);
      Tensor fake = g(randn({n, kLatent}));
      Tensor ones_t = ones({n, 1}), zeros_t = zeros({n, 1});
      Tensor loss_d = F::binary_cross_entropy_with_logits((*d)(real), ones_t) +
                      F::binary_cross_entropy_with_logits((*d)(fake.detach()), zeros_t);
      opt_d.zero_grad();
      loss_d.backward();
      opt_d.step();
      fake.retain_grad();
      Tensor loss_g = F::binary_cross_entropy_with_logits((*d)(fake), ones_t);
      opt_g.zero_grad();
      loss_g.backward();
      opt_g.step();
      // Per-sample gradient norm reaching the generator's output, averaged over the batch.
      Tensor gf = fake.grad().to(kFloat64);
      double gn = (gf * gf).sum({1}).sqrt().mean().item<double>();
      v.d_losses.push_back(loss_d.item<double>());
      v.g_losses.push_back(loss_g.item<double>());
      v.generator_grad.push_back(gn);
      auto step = static_cast<int64_t>(v.d_losses.size());
      if (w && step % 10 == 0) {
        w->add_scalar("loss/discriminator", v.d_losses.back(), step);
        w->add_scalar("loss/generator", v.g_losses.back(), step);
        w->add_scalar("generator_grad_norm", gn, step);
      }
      if (step == b.steps / 2) log_samples(step);
      last_real = real;
      last_fake = fake.detach().reshape(real.sizes());
      return true;
    });
    for (double x : v.generator_grad) {
      v.mean_generator_grad += x;
      v.small_grad_fraction += x < 1e-3 ? 1.0 : 0.0;
    }
    double steps = static_cast<double>(std::max<size_t>(v.generator_grad.size(), 1));
    v.mean_generator_grad /= steps;
    v.small_grad_fraction /= steps;
    if (last_real.defined()) {
      auto sp = measure_sparsity(*d, cat({last_real, last_fake}, 0));
      v.d_dead_fraction = sp.empty() ? 0.0 : sp[0].dead_fraction;
    }
    log_samples(static_cast<int64_t>(v.d_losses.size()));
    r.variants.push_back(std::move(v));
  }
  return r;
}

}  // namespace actlab::lab
