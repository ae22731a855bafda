#include "actlab/lab/compare.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "actlab/core/file.h"
#include "actlab/kernels/control.h"
#include "actlab/lab/guide.h"
#include "actlab/lab/measure.h"
#include "actlab/lab/plot.h"
#include "actlab/lab/probe.h"
#include "actlab/lab/train.h"
#include "actlab/nn/activation.h"

namespace actlab::lab {

std::vector<std::string> default_compare_acts() {
  return {"ReLU", "LeakyReLU", "Sigmoid", "Tanh", "ELU", "SELU", "GELU", "Mish"};
}

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- budgets --------------------------------------------------------------------------------------------

struct Budget {
  int64_t speed_numel;
  double speed_min_time;
  int64_t deep_width, deep_steps;     // 20-layer MLP for gradient stability
  int64_t sparse_depth, sparse_width, sparse_steps;
  double normal_lr, high_lr;
  int64_t learn_epochs, learn_max_steps;  // seed-cnn; max_steps < 0: whole epochs
  int64_t eval_images;                // test images used for accuracy and sparsity
  GuideBudget guide;
  int64_t log_every;
};

Budget budget_for(bool quick, uint64_t seed) {
  if (quick)
    return {65536, 0.02, 128, 40, 3, 256, 150, 0.05, 0.15, 1, 150, 1000, {.steps = 80, .batch_size = 64, .eval_images = 1000, .seed = seed}, 10};
  return {262144, 0.1, 128, 300, 3, 256, 900, 0.05, 0.15, 2, -1, 10000, {.steps = 600, .batch_size = 64, .eval_images = 10000, .seed = seed}, 50};
}

constexpr int64_t kDeepDepth = 20;

// ---- results --------------------------------------------------------------------------------------------

struct GradCase {
  std::string init;
  bool batchnorm = false;
  std::vector<double> at_init, trained;  // weight gradient norm per layer (20 hidden + output)
  bool diverged = false;
  double test_accuracy = kNaN;
  double ratio_init() const { return at_init.size() > 1 ? at_init.front() / at_init.back() : kNaN; }
  double ratio_trained() const { return trained.size() > 1 ? trained.front() / trained.back() : kNaN; }
};

struct SparseCase {
  double lr = 0;
  std::vector<LayerSparsity> layers;
  bool diverged = false;
  double test_accuracy = kNaN;
  double mean_active() const {
    if (layers.empty()) return kNaN;
    double s = 0;
    for (const auto& l : layers) s += l.active_fraction;
    return s / static_cast<double>(layers.size());
  }
  // Dead units over all layers, weighted by units.
  double dead() const {
    if (layers.empty()) return kNaN;
    double d = 0, u = 0;
    for (const auto& l : layers) {
      d += l.dead_fraction * static_cast<double>(l.units);
      u += static_cast<double>(l.units);
    }
    return u > 0 ? d / u : kNaN;
  }
};

struct ActResult {
  std::string spec, slug;
  Speed speed;
  Range range;
  std::vector<GradCase> grad;  // default/no BN, default/BN, kaiming/no BN, kaiming/BN
  SparseCase sparse_init, sparse_normal, sparse_high;
  TrainResult learn;
  bool learn_diverged = false;
  std::vector<LayerSparsity> learn_sparsity;
  std::vector<std::string> defects;
  const GradCase& grad_case(const std::string& init, bool bn) const {
    for (const auto& g : grad)
      if (g.init == init && g.batchnorm == bn) return g;
    throw Error("internal: missing gradient case");
  }
};

// LeakyReLU's slope, the seed's "hyperparameter-sensitive" defect: the sparsity MLP's test accuracy per slope.
struct SlopeCase {
  double slope = 0;
  SparseCase normal, high;
};

struct Claim {
  std::string topic, claim, measured, verdict;  // verdict: supported | not supported | mixed
};

struct Results {
  CompareConfig config;
  Budget budget{};
  double copy_gbps = 0;
  std::vector<ActResult> acts;
  BinaryResult binary;
  MulticlassResult multiclass;
  RnnResult rnn;
  GanResult gan;
  std::vector<SlopeCase> slopes;
  std::vector<Claim> claims;
  int64_t train_images = 0, test_images = 0;
  std::string started, runs_dir;
  double seconds = 0;
};

std::string slug(const std::string& spec) {
  std::string s;
  for (char c : spec) s += std::isalnum(static_cast<unsigned char>(c)) || c == '.' ? c : '_';
  while (!s.empty() && s.back() == '_') s.pop_back();
  return s;
}

std::string fmt(const char* f, double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "n/a" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string pct(double v) { return std::isfinite(v) ? fmt("%.1f%%", 100 * v) : "n/a"; }

bool is_diverged(const Error& e) { return std::string(e.what()).rfind("training diverged", 0) == 0; }

// ---- the measurements -------------------------------------------------------------------------------------

void measure_gradients(ActResult& a, const Split& train, const Split& test, const Split& probe, const Budget& b,
                       const CompareConfig& c, const std::string& runs) {
  for (const char* init : {"default", "kaiming"})
    for (bool bn : {false, true}) {
      GradCase g;
      g.init = init;
      g.batchnorm = bn;
      TrainConfig tc{.model = "mlp", .act = a.spec, .epochs = 1, .batch_size = 64, .lr = b.normal_lr / 5,
                     .momentum = 0.9, .seed = c.seed, .data_dir = c.data_dir, .max_steps = b.deep_steps,
                     .depth = kDeepDepth, .width = b.deep_width, .batchnorm = bn, .init = init};
      tc.logdir = detail::concat(runs, "/gradients-", init, bn ? "-bn-" : "-", a.slug);
      tc.log_every = b.deep_steps;  // 20 layers of gradient histograms: once, at the end, keeps the runs small
      manual_seed(c.seed);
      auto model = build_model(tc);
      g.at_init = weight_grad_norms(*model, probe.images, probe.labels);
      try {
        TrainResult r = lab::train(*model, train, test, tc);
        g.test_accuracy = r.test_accuracy;
        g.trained = weight_grad_norms(*model, probe.images, probe.labels);
      } catch (const Error& e) {
        if (!is_diverged(e)) throw;
        g.diverged = true;
      }
      a.grad.push_back(std::move(g));
    }
}

SparseCase sparse_run(const ActResult& a, double lr, const Split& train, const Split& test, const Budget& b,
                      const CompareConfig& c, const std::string& logdir) {
  SparseCase s;
  s.lr = lr;
  TrainConfig tc{.model = "mlp", .act = a.spec, .epochs = 1000, .batch_size = 64, .lr = lr, .momentum = 0.9,
                 .seed = c.seed, .data_dir = c.data_dir, .max_steps = b.sparse_steps, .depth = b.sparse_depth,
                 .width = b.sparse_width};
  tc.logdir = logdir;
  tc.log_every = b.log_every;
  manual_seed(c.seed);
  auto model = build_model(tc);
  if (lr == 0) {  // at initialization
    s.layers = measure_sparsity(*model, test.images);
    return s;
  }
  try {
    TrainResult r = lab::train(*model, train, test, tc);
    s.test_accuracy = r.test_accuracy;
  } catch (const Error& e) {
    if (!is_diverged(e)) throw;
    s.diverged = true;
    return s;  // non-finite weights: no sparsity to speak of
  }
  s.layers = measure_sparsity(*model, test.images);
  return s;
}

void measure_learning(ActResult& a, const Split& train, const Split& test, const Budget& b, const CompareConfig& c,
                      const std::string& runs) {
  TrainConfig tc{.model = "seed-cnn", .act = a.spec, .epochs = b.learn_epochs, .batch_size = 64, .lr = 0.05,
                 .momentum = 0.9, .seed = c.seed, .data_dir = c.data_dir, .max_steps = b.learn_max_steps};
  tc.logdir = runs + "/learning-" + a.slug;
  tc.log_every = b.log_every;
  manual_seed(c.seed);
  auto model = build_model(tc);
  try {
    a.learn = lab::train(*model, train, test, tc);
  } catch (const Error& e) {
    if (!is_diverged(e)) throw;
    a.learn_diverged = true;
  }
  a.learn_sparsity = measure_sparsity(*model, test.images);
}

// ---- judging the seed's claims ----------------------------------------------------------------------------

const ActResult* find(const Results& r, const std::string& name) {
  for (const auto& a : r.acts)
    if (a.spec == name) return &a;
  return nullptr;
}

// |log10| of the first/last layer gradient ratio at initialization (default init, no BatchNorm): how many
// decades the gradient changes across the 20 layers. NaN if not measured.
double decades(const ActResult& a, const std::string& init = "default", bool bn = false) {
  double r = a.grad_case(init, bn).ratio_init();
  return std::isfinite(r) && r > 0 ? std::abs(std::log10(r)) : (r == 0 ? std::numeric_limits<double>::infinity() : kNaN);
}

double fwd_rel(const Results& r, const ActResult& a) {
  const ActResult* relu = find(r, "ReLU");
  return relu ? a.speed.forward_seconds / relu->speed.forward_seconds : kNaN;
}

double best_accuracy(const Results& r) {
  double best = 0;
  for (const auto& a : r.acts) best = std::max(best, a.learn.test_accuracy);
  return best;
}

void observe_defects(Results& r) {
  double best = best_accuracy(r);
  for (auto& a : r.acts) {
    a.defects.clear();
    if (a.sparse_high.diverged) a.defects.push_back(detail::concat("diverged at lr ", a.sparse_high.lr));
    else if (a.sparse_high.dead() > 0.1)
      a.defects.push_back(pct(a.sparse_high.dead()) + " of units pass no gradient after lr " + fmt("%g", a.sparse_high.lr) +
                          (a.range.dy_min == 0 && a.range.unbounded_above ? " (dying units)" : " (saturated units)"));
    double d = decades(a);
    if (d >= 3) a.defects.push_back("vanishing gradient: the first layer gets 1e-" + fmt("%.0f", d) + " of the last");
    else if (d >= 1.5) a.defects.push_back("weak gradient in early layers (" + fmt("%.1f", d) + " decades over 20 layers)");
    double rel = fwd_rel(r, a);
    if (rel > 1.5) a.defects.push_back("slow: forward " + fmt("%.1f", rel) + "x ReLU's time");
    if (a.learn_diverged) a.defects.push_back("seed-cnn training diverged");
    else if (best - a.learn.test_accuracy > 0.02) a.defects.push_back("accuracy " + fmt("%.1f", 100 * (best - a.learn.test_accuracy)) + " points below the best");
    if (a.defects.empty()) a.defects.push_back("none observed");
  }
}

std::string verdict(bool ok) { return ok ? "supported" : "not supported"; }

void judge(Results& r) {
  auto& claims = r.claims;
  const ActResult* relu = find(r, "ReLU");
  const ActResult* leaky = find(r, "LeakyReLU");
  const ActResult* sigmoid = find(r, "Sigmoid");
  const ActResult* tanh = find(r, "Tanh");
  if (relu) {
    double act = relu->sparse_normal.mean_active();
    claims.push_back({"sparsity", "ReLU activates only 30-50% of neurons",
                      "ReLU's mean active fraction over the MLP's layers on the test set: " + pct(relu->sparse_init.mean_active()) +
                          " at initialization, " + pct(act) + " after training at lr " + fmt("%g", r.budget.normal_lr) +
                          " (seed-cnn: " + pct(relu->learn_sparsity.empty() ? kNaN : relu->learn_sparsity.back().active_fraction) + " in its last ReLU)",
                      verdict(act >= 0.30 && act <= 0.50)});
  }
  if (relu && sigmoid && tanh) {
    double rs = fwd_rel(r, *sigmoid), rt = fwd_rel(r, *tanh);
    claims.push_back({"speed", "ReLU and LeakyReLU are fastest, Tanh slower, Sigmoid slowest (3/3/2/1 bolts)",
                      "forward time relative to ReLU: LeakyReLU " + (leaky ? fmt("%.2f", fwd_rel(r, *leaky)) : "n/a") +
                          ", Tanh " + fmt("%.2f", rt) + ", Sigmoid " + fmt("%.2f", rs) + " (" + std::to_string(r.budget.speed_numel) + " elements)",
                      rt > 1.1 && rs > 1.1 && rs > rt ? "supported" : (rt > 1.1 && rs > 1.1 ? "mixed" : "not supported")});
  }
  if (relu && sigmoid && tanh && leaky) {
    double dr = decades(*relu), ds = decades(*sigmoid), dt = decades(*tanh), dl = decades(*leaky);
    bool sig_worst = ds >= std::max({dr, dt, dl});
    bool leaky_best = dl <= std::min({dr, dt, ds}) + 0.1;
    claims.push_back({"gradient stability", "Sigmoid's gradients are least stable; LeakyReLU's most (1 star vs 3)",
                      "decades the gradient changes from the last to the first of 20 layers at init (default init, no BatchNorm): ReLU " +
                          fmt("%.1f", dr) + ", LeakyReLU " + fmt("%.1f", dl) + ", Tanh " + fmt("%.1f", dt) + ", Sigmoid " + fmt("%.1f", ds),
                      sig_worst && leaky_best ? "supported" : (sig_worst || leaky_best ? "mixed" : "not supported")});
  }
  if (sigmoid) {
    double without = decades(*sigmoid, "default", false), with = decades(*sigmoid, "default", true);
    claims.push_back({"remedy", "BatchNorm before Sigmoid reduces vanishing gradients",
                      "Sigmoid, 20 layers: " + fmt("%.1f", without) + " decades without BatchNorm1d, " + fmt("%.1f", with) + " with",
                      verdict(with + 1 <= without)});
  }
  if (relu && leaky) {
    double dr = relu->sparse_high.dead(), dl = leaky->sparse_high.dead();
    claims.push_back({"remedy", "ReLU units die (at high learning rates); LeakyReLU prevents it",
                      "dead units after training at lr " + fmt("%g", r.budget.high_lr) + ": ReLU " + pct(dr) + ", LeakyReLU " + pct(dl) +
                          " (at lr " + fmt("%g", r.budget.normal_lr) + ": ReLU " + pct(relu->sparse_normal.dead()) + ")",
                      verdict(dr > 0.05 && dl < dr)});
    double dd = decades(*relu, "default", false), dk = decades(*relu, "kaiming", false);
    claims.push_back({"remedy", "kaiming_normal_ initialization helps ReLU networks",
                      "ReLU, 20 layers: " + fmt("%.1f", dd) + " decades of gradient change with PyTorch's default init, " + fmt("%.1f", dk) + " with kaiming",
                      verdict(dk + 0.5 <= dd)});
  }
  if (tanh && relu) {
    double rt = fwd_rel(r, *tanh);
    claims.push_back({"defect", "Tanh is computationally expensive",
                      "Tanh's forward takes " + fmt("%.2f", rt) + "x ReLU's time; backward " +
                          fmt("%.2f", tanh->speed.backward_seconds / relu->speed.backward_seconds) + "x",
                      verdict(rt > 1.5)});
  }
  if (!r.slopes.empty()) {
    double lo = 1, hi = 0, lo_h = 1, hi_h = 0;
    std::string text;
    for (const auto& sc : r.slopes) {
      lo = std::min(lo, sc.normal.test_accuracy);
      hi = std::max(hi, sc.normal.test_accuracy);
      double h = sc.high.diverged ? 0.0 : sc.high.test_accuracy;
      lo_h = std::min(lo_h, h);
      hi_h = std::max(hi_h, h);
      text += (text.empty() ? "" : ", ") + fmt("%g", sc.slope) + ": " + pct(sc.normal.test_accuracy) + " / " +
              (sc.high.diverged ? std::string("diverged") : pct(sc.high.test_accuracy));
    }
    claims.push_back({"defect", "LeakyReLU is sensitive to its slope hyperparameter",
                      "MLP test accuracy per slope at lr " + fmt("%g", r.budget.normal_lr) + " / " + fmt("%g", r.budget.high_lr) + ": " + text +
                          " (spread " + fmt("%.1f", 100 * (hi - lo)) + " / " + fmt("%.1f", 100 * (hi_h - lo_h)) + " points)",
                      hi - lo > 0.01 || hi_h - lo_h > 0.05 ? (hi - lo > 0.01 ? "supported" : "mixed") : "not supported"});
  }
  // The guide's rows.
  {
    double best = best_accuracy(r);
    std::string best_name;
    for (const auto& a : r.acts)
      if (a.learn.test_accuracy == best) best_name = a.spec;
    double family = std::max(relu ? relu->learn.test_accuracy : 0.0, leaky ? leaky->learn.test_accuracy : 0.0);
    claims.push_back({"guide: CNN", "ReLU family (ReLU/LeakyReLU) for CNN hidden layers",
                      "seed-cnn test accuracy, same budget: best ReLU-family " + pct(family) + ", best overall " + pct(best) + " (" + best_name + ")",
                      verdict(relu && leaky && best - family <= 0.01)});
  }
  if (r.rnn.variants.size() == 2) {
    const auto& t = r.rnn.variants[0];
    const auto& u = r.rnn.variants[1];
    bool ok = (u.diverged && !t.diverged) || (t.max_grad_norm < u.max_grad_norm && t.test_accuracy >= u.test_accuracy - 0.01);
    claims.push_back({"guide: RNN", "Tanh for RNNs (symmetric output, keeps gradients from exploding)",
                      "largest gradient norm in training: tanh " + fmt("%.3g", t.max_grad_norm) + ", relu " +
                          (u.diverged ? "diverged at step " + std::to_string(u.diverged_at_step) : fmt("%.3g", u.max_grad_norm)) +
                          "; test accuracy tanh " + pct(t.test_accuracy) + ", relu " + pct(u.test_accuracy),
                      verdict(ok)});
  }
  if (r.binary.variants.size() == 2) {
    const auto& s = r.binary.variants[0];
    const auto& l = r.binary.variants[1];
    claims.push_back({"guide: binary output", "Sigmoid for a binary output (a natural probability)",
                      "Sigmoid probabilities' calibration error " + fmt("%.3f", s.ece) + " (logits + BCEWithLogitsLoss: " + fmt("%.3f", l.ece) +
                          "); accuracy " + pct(s.test_accuracy) + " vs " + pct(l.test_accuracy) +
                          "; but at a saturated logit (-120, target 1) Sigmoid + BCELoss passes gradient " + fmt("%.3g", s.saturated_grad) +
                          " where BCEWithLogitsLoss passes " + fmt("%.3g", l.saturated_grad),
                      verdict(s.ece < 0.05 && s.test_accuracy >= l.test_accuracy - 0.01)});
  }
  if (r.multiclass.variants.size() == 2) {
    const auto& s = r.multiclass.variants[0];
    const auto& g = r.multiclass.variants[1];
    claims.push_back({"guide: multiclass output", "Softmax for a multiclass output (normalized probabilities)",
                      "mean |sum of class probabilities - 1|: Softmax " + fmt("%.2g", s.mean_abs_sum_deviation) + ", independent Sigmoids " +
                          fmt("%.3f", g.mean_abs_sum_deviation) + "; accuracy " + pct(s.test_accuracy) + " vs " + pct(g.test_accuracy) +
                          "; calibration error " + fmt("%.3f", s.ece) + " vs " + fmt("%.3f", g.ece),
                      verdict(s.mean_abs_sum_deviation < 1e-5 && s.test_accuracy >= g.test_accuracy - 0.01)});
  }
  if (r.gan.variants.size() == 2) {
    const auto& u = r.gan.variants[0];
    const auto& l = r.gan.variants[1];
    claims.push_back({"guide: GAN", "LeakyReLU in the discriminator keeps its gradients from vanishing",
                      "mean gradient norm reaching the generator: ReLU D " + fmt("%.3g", u.mean_generator_grad) + ", LeakyReLU D " +
                          fmt("%.3g", l.mean_generator_grad) + "; dead discriminator units " + pct(u.d_dead_fraction) + " vs " + pct(l.d_dead_fraction),
                      // Within 10% either way is noise for one seed: mixed.
                      l.mean_generator_grad > 1.1 * u.mean_generator_grad ? "supported"
                      : l.mean_generator_grad * 1.1 < u.mean_generator_grad ? "not supported" : "mixed"});
  }
}

// ---- output -------------------------------------------------------------------------------------------------

json layers_json(const std::vector<LayerSparsity>& layers) {
  json j = json::array();
  for (const auto& l : layers)
    j.push_back({{"name", l.name}, {"units", l.units}, {"active_fraction", l.active_fraction},
                 {"dead_fraction", std::isfinite(l.dead_fraction) ? json(l.dead_fraction) : json(nullptr)}});
  return j;
}

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json sparse_json(const SparseCase& s) {
  return {{"lr", s.lr}, {"diverged", s.diverged}, {"test_accuracy", num(s.test_accuracy)},
          {"mean_active_fraction", num(s.mean_active())}, {"dead_fraction", num(s.dead())}, {"layers", layers_json(s.layers)}};
}

json to_json(const Results& r) {
  const Budget& b = r.budget;
  json j;
  j["config"] = {{"acts", r.config.acts}, {"quick", r.config.quick}, {"seed", r.config.seed},
                 {"data_dir", r.config.data_dir.empty() ? std::string("(default)") : r.config.data_dir},
                 {"threads", get_num_threads()}, {"simd_target", kernels::simd_target()},
                 {"command", r.config.command_line}, {"started", r.started}, {"seconds", r.seconds},
                 {"train_images", r.train_images}, {"test_images", r.test_images}, {"runs_dir", r.runs_dir},
                 {"budget", {{"speed_numel", b.speed_numel}, {"deep_depth", kDeepDepth}, {"deep_width", b.deep_width},
                             {"deep_steps", b.deep_steps}, {"deep_lr", b.normal_lr / 5}, {"sparse_depth", b.sparse_depth},
                             {"sparse_width", b.sparse_width}, {"sparse_steps", b.sparse_steps}, {"normal_lr", b.normal_lr},
                             {"high_lr", b.high_lr}, {"learn_epochs", b.learn_epochs}, {"learn_max_steps", b.learn_max_steps},
                             {"eval_images", b.eval_images}, {"guide_steps", b.guide.steps}}}};
  j["copy_gbps"] = r.copy_gbps;
  json acts = json::array();
  for (const auto& a : r.acts) {
    json grad = json::array();
    for (const auto& g : a.grad)
      grad.push_back({{"init", g.init}, {"batchnorm", g.batchnorm}, {"grad_norms_init", g.at_init},
                      {"grad_norms_trained", g.trained}, {"first_over_last_init", num(g.ratio_init())},
                      {"first_over_last_trained", num(g.ratio_trained())}, {"diverged", g.diverged},
                      {"test_accuracy", num(g.test_accuracy)}});
    json hist = json::array();
    for (const auto& e : a.learn.history)
      hist.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy},
                      {"test_loss", e.test_loss}, {"test_accuracy", e.test_accuracy}, {"train_seconds", e.train_seconds},
                      {"images_per_second", e.images_per_second}});
    acts.push_back(
        {{"spec", a.spec},
         {"speed", {{"forward_gbps", a.speed.forward_gbps}, {"backward_gbps", a.speed.backward_gbps},
                    {"forward_seconds", a.speed.forward_seconds}, {"backward_seconds", a.speed.backward_seconds},
                    {"forward_vs_relu", num(fwd_rel(r, a))}, {"forward_vs_copy", a.speed.forward_gbps / r.copy_gbps},
                    {"backward_vs_copy", a.speed.backward_gbps / r.copy_gbps}}},
         {"range", {{"text", a.range.text}, {"min", a.range.y_min}, {"max", a.range.y_max},
                    {"derivative_min", a.range.dy_min}, {"derivative_max", a.range.dy_max}, {"x_at_derivative_max", a.range.x_at_dy_max}}},
         {"gradient_stability", grad},
         {"sparsity", {{"init", sparse_json(a.sparse_init)}, {"normal_lr", sparse_json(a.sparse_normal)}, {"high_lr", sparse_json(a.sparse_high)}}},
         {"learning", {{"model", "seed-cnn"}, {"diverged", a.learn_diverged}, {"test_accuracy", a.learn.test_accuracy},
                       {"train_loss", a.learn.train_loss}, {"seconds_per_epoch", a.learn.epochs ? a.learn.train_seconds / static_cast<double>(a.learn.epochs) : 0.0},
                       {"images_per_second", a.learn.train_images_per_second}, {"steps", a.learn.steps}, {"history", hist},
                       {"step_losses", a.learn.step_losses}, {"sparsity", layers_json(a.learn_sparsity)}}},
         {"defects", a.defects}});
  }
  j["activations"] = acts;
  json bin = json::array();
  for (const auto& v : r.binary.variants)
    bin.push_back({{"name", v.name}, {"test_accuracy", v.test_accuracy}, {"calibration_error", v.ece},
                   {"saturated_logit_grad", v.saturated_grad}, {"saturated_logit_loss", v.saturated_loss}, {"losses", v.losses}});
  json multi = json::array();
  for (const auto& v : r.multiclass.variants)
    multi.push_back({{"name", v.name}, {"test_accuracy", v.test_accuracy}, {"calibration_error", v.ece},
                     {"mean_abs_probability_sum_deviation", v.mean_abs_sum_deviation}, {"losses", v.losses}});
  json rnn = json::array();
  for (const auto& v : r.rnn.variants)
    rnn.push_back({{"nonlinearity", v.nonlinearity}, {"test_accuracy", v.test_accuracy}, {"diverged", v.diverged},
                   {"diverged_at_step", v.diverged_at_step}, {"max_grad_norm", v.max_grad_norm},
                   {"grad_norm_through_time_init", v.grad_norm_through_time_init},
                   {"grad_norm_through_time_trained", v.grad_norm_through_time_trained}, {"losses", v.losses}, {"grad_norms", v.grad_norms}});
  json gan = json::array();
  for (const auto& v : r.gan.variants)
    gan.push_back({{"discriminator_act", v.discriminator_act}, {"mean_generator_grad", v.mean_generator_grad},
                   {"small_grad_fraction", v.small_grad_fraction}, {"discriminator_dead_fraction", num(v.d_dead_fraction)},
                   {"d_losses", v.d_losses}, {"g_losses", v.g_losses}, {"generator_grad", v.generator_grad}});
  j["guide"] = {{"binary", {{"classes", {r.binary.class_a, r.binary.class_b}}, {"train_images", r.binary.train_images},
                            {"test_images", r.binary.test_images}, {"variants", bin}}},
                {"multiclass", {{"variants", multi}}},
                {"rnn", {{"hidden_size", r.rnn.hidden_size}, {"lr", r.rnn.lr}, {"variants", rnn}}},
                {"gan", {{"variants", gan}}}};
  json slopes = json::array();
  for (const auto& sc : r.slopes)
    slopes.push_back({{"negative_slope", sc.slope}, {"normal_lr", sparse_json(sc.normal)}, {"high_lr", sparse_json(sc.high)}});
  j["leaky_relu_slopes"] = slopes;
  json claims = json::array();
  for (const auto& c : r.claims)
    claims.push_back({{"topic", c.topic}, {"claim", c.claim}, {"measured", c.measured}, {"verdict", c.verdict}});
  j["claims"] = claims;
  return j;
}

// The seed's own ratings, for the four activations its table has.
std::string seed_rating(const std::string& act, int row) {
  static const std::vector<std::vector<std::string>> t = {
      {"ReLU", "3 bolts", "2 stars", "[0, inf)", "dying neurons"},
      {"Sigmoid", "1 bolt", "1 star", "(0, 1)", "vanishing gradient"},
      {"Tanh", "2 bolts", "2 stars", "(-1, 1)", "computationally expensive"},
      {"LeakyReLU", "3 bolts", "3 stars", "(-inf, inf)", "sensitive to its slope"}};
  for (const auto& r : t)
    if (r[0] == act) return r[static_cast<size_t>(row)];
  return "-";
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : "; ") + p;
  return s;
}

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

Table main_table(const Results& r) {
  Table t{{"activation", "forward (x ReLU time)", "backward (x ReLU time)", "forward / copy bandwidth",
           "gradient change over 20 layers (init; trained)", "with BatchNorm1d (init)", "output range", "max derivative",
           "active (normal lr)", "dead (normal / high lr)", "seed-cnn accuracy", "s / epoch", "main defect observed"},
          {}};
  const ActResult* relu = find(r, "ReLU");
  for (const auto& a : r.acts) {
    const GradCase& g = a.grad_case("default", false);
    const GradCase& gb = a.grad_case("default", true);
    t.rows.push_back(
        {a.spec, relu ? fmt("%.2f", a.speed.forward_seconds / relu->speed.forward_seconds) : "n/a",
         relu ? fmt("%.2f", a.speed.backward_seconds / relu->speed.backward_seconds) : "n/a",
         fmt("%.2f", a.speed.forward_gbps / r.copy_gbps),
         fmt("%.2g", g.ratio_init()) + "; " + (g.diverged ? std::string("diverged") : fmt("%.2g", g.ratio_trained())),
         fmt("%.2g", gb.ratio_init()), a.range.text, fmt("%.4g", a.range.dy_max) + " at x=" + fmt("%.3g", a.range.x_at_dy_max),
         pct(a.sparse_normal.mean_active()),
         pct(a.sparse_normal.dead()) + " / " + (a.sparse_high.diverged ? std::string("diverged") : pct(a.sparse_high.dead())),
         a.learn_diverged ? std::string("diverged") : pct(a.learn.test_accuracy),
         fmt("%.1f", a.learn.epochs ? a.learn.train_seconds / static_cast<double>(a.learn.epochs) : kNaN),
         join(a.defects)});
  }
  return t;
}

Table seed_table(const Results& r) {
  Table t{{"metric", "ReLU", "Sigmoid", "Tanh", "LeakyReLU"}, {}};
  const char* names[] = {"ReLU", "Sigmoid", "Tanh", "LeakyReLU"};
  auto row = [&](const std::string& label, int seed_row, auto measured) {
    std::vector<std::string> cells{label};
    for (const char* n : names) {
      const ActResult* a = find(r, n);
      cells.push_back(seed_rating(n, seed_row) + " -> " + (a ? measured(*a) : std::string("not run")));
    }
    t.rows.push_back(cells);
  };
  row("speed (seed -> forward time x ReLU)", 1, [&](const ActResult& a) { return fmt("%.2f", fwd_rel(r, a)); });
  row("gradient stability (seed -> decades lost over 20 layers)", 2, [&](const ActResult& a) { return fmt("%.1f", decades(a)); });
  row("output range (seed -> measured)", 3, [&](const ActResult& a) { return a.range.text; });
  row("main defect (seed -> observed)", 4, [&](const ActResult& a) { return join(a.defects); });
  return t;
}

std::string md_table(const Table& t) {
  std::ostringstream o;
  o << "|";
  for (const auto& h : t.header) o << " " << h << " |";
  o << "\n|";
  for (size_t i = 0; i < t.header.size(); ++i) o << "---|";
  o << "\n";
  for (const auto& row : t.rows) {
    o << "|";
    for (const auto& c : row) o << " " << c << " |";
    o << "\n";
  }
  return o.str();
}

std::string settings_text(const Results& r) {
  const Budget& b = r.budget;
  std::ostringstream o;
  o << "Rerun: `" << r.config.command_line << "` (seed " << r.config.seed << ", " << get_num_threads() << " threads, SIMD "
    << kernels::simd_target() << "). Started " << r.started << ", took " << fmt("%.0f", r.seconds) << " s"
    << (r.config.quick ? " (--quick: fewer steps, smaller probes)" : "") << ". Data: " << r.train_images << " training and "
    << r.test_images << " test images from " << (r.config.data_dir.empty() ? std::string("the default location") : r.config.data_dir) << ".\n\n"
    << "Settings: speed on " << b.speed_numel << " float32 elements (best of repeats, copy " << fmt("%.1f", r.copy_gbps)
    << " GB/s); gradient stability in a " << kDeepDepth << "-layer MLP of width " << b.deep_width << ", " << b.deep_steps
    << " SGD steps (lr " << fmt("%g", b.normal_lr / 5) << ", momentum 0.9, batch 64), gradient norms of every weight on 256 test images; sparsity in a "
    << b.sparse_depth << "-layer MLP of width " << b.sparse_width << " after " << b.sparse_steps << " steps at lr " << fmt("%g", b.normal_lr)
    << " and " << fmt("%g", b.high_lr) << ", over " << b.eval_images << " test images; seed-cnn "
    << (b.learn_max_steps >= 0 ? std::to_string(b.learn_max_steps) + " steps" : std::to_string(b.learn_epochs) + " epochs")
    << " of SGD (lr 0.05, momentum 0.9, batch 64); guide experiments " << b.guide.steps << " steps each.\n";
  return o.str();
}

std::string report_markdown(const Results& r) {
  std::ostringstream o;
  o << "# actlab compare: which activation, and why\n\n" << settings_text(r) << "\n";
  o << "## Every activation, measured\n\n"
    << "Gradient change = norm of the first layer's weight gradient over the last's (1 = stable; 1e-6 = vanished; 1e+6 = exploded). "
       "Active = outputs > 0; dead = units whose derivative is 0 on every test image.\n\n"
    << md_table(main_table(r)) << "\n";
  o << "## The seed's table, with measured values where it has stars\n\n" << md_table(seed_table(r)) << "\n";
  o << "## The seed's claims and the guide's rows\n\n";
  for (const auto& c : r.claims)
    o << "- **" << c.verdict << "** (" << c.topic << ") " << c.claim << ": " << c.measured << ".\n";
  if (!r.slopes.empty()) {
    o << "\n## LeakyReLU's slope\n\n";
    for (const auto& sc : r.slopes)
      o << "- negative_slope " << fmt("%g", sc.slope) << ": test accuracy " << pct(sc.normal.test_accuracy) << " at lr "
        << fmt("%g", r.budget.normal_lr) << ", " << (sc.high.diverged ? std::string("diverged") : pct(sc.high.test_accuracy))
        << " at lr " << fmt("%g", r.budget.high_lr) << "\n";
  }
  o << "\n## Guide experiments\n\n";
  o << "Binary (classes " << r.binary.class_a << " vs " << r.binary.class_b << ", " << r.binary.train_images << " training images):\n\n";
  for (const auto& v : r.binary.variants)
    o << "- " << v.name << ": accuracy " << pct(v.test_accuracy) << ", calibration error " << fmt("%.3f", v.ece)
      << ", gradient at logit -120 " << fmt("%.3g", v.saturated_grad) << " (loss " << fmt("%.4g", v.saturated_loss) << ")\n";
  o << "\nMulticlass (10 classes):\n\n";
  for (const auto& v : r.multiclass.variants)
    o << "- " << v.name << ": accuracy " << pct(v.test_accuracy) << ", calibration error " << fmt("%.3f", v.ece)
      << ", mean |sum of probabilities - 1| " << fmt("%.3g", v.mean_abs_sum_deviation) << "\n";
  o << "\nRNN over image rows (hidden " << r.rnn.hidden_size << ", SGD lr " << fmt("%g", r.rnn.lr) << ", momentum 0.9):\n\n";
  for (const auto& v : r.rnn.variants) {
    o << "- " << v.nonlinearity << ": accuracy " << pct(v.test_accuracy) << ", largest gradient norm " << fmt("%.3g", v.max_grad_norm);
    if (v.diverged) o << ", diverged at step " << v.diverged_at_step;
    if (!v.grad_norm_through_time_init.empty())
      o << ", ||dL/dx_t|| at init: first row " << fmt("%.3g", v.grad_norm_through_time_init.front()) << ", last row "
        << fmt("%.3g", v.grad_norm_through_time_init.back());
    o << "\n";
  }
  o << "\nGAN (generator MLP, discriminator MLP with the activation):\n\n";
  for (const auto& v : r.gan.variants)
    o << "- D with " << v.discriminator_act << ": mean gradient reaching the generator " << fmt("%.3g", v.mean_generator_grad)
      << ", steps with a stalled generator (< 1e-3) " << pct(v.small_grad_fraction) << ", dead D units " << pct(v.d_dead_fraction)
      << ", final losses D " << fmt("%.3f", v.d_losses.empty() ? kNaN : v.d_losses.back()) << " G "
      << fmt("%.3f", v.g_losses.empty() ? kNaN : v.g_losses.back()) << "\n";
  o << "\nEvery number is in results.json; TensorBoard runs (histograms of every activation layer, scalars, images) are in "
    << r.runs_dir << " (`tensorboard --logdir " << r.runs_dir << "`).\n";
  return o.str();
}

// Moving average, for noisy per-step curves.
std::vector<double> smooth(const std::vector<double>& v, size_t window) {
  std::vector<double> out;
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    s += v[i];
    if (i >= window) s -= v[i - window];
    out.push_back(s / static_cast<double>(std::min(i + 1, window)));
  }
  return out;
}
std::vector<double> iota_from(size_t n, double start) {
  std::vector<double> x(n);
  std::iota(x.begin(), x.end(), start);
  return x;
}

std::string report_html(const Results& r) {
  using plot::Chart;
  using plot::Series;
  std::ostringstream o;
  auto h = plot::html_escape;
  auto section = [&](const std::string& title) { o << "<h2>" << h(title) << "</h2>\n"; };
  auto figures = [&](const std::vector<std::string>& svgs) {
    o << "<div class=\"plots\">\n";
    for (const auto& s : svgs) o << "<figure>" << s << "</figure>\n";
    o << "</div>\n";
  };
  o << "<h1>actlab compare: which activation, and why</h1>\n<p>" << h(settings_text(r)) << "</p>\n";
  section("Every activation, measured");
  Table mt = main_table(r);
  // The defects get a table of their own: as a column they squeeze the numbers off the page.
  std::vector<std::vector<std::string>> defects;
  for (auto& row : mt.rows) {
    defects.push_back({row.front(), row.back()});
    row.pop_back();
  }
  mt.header.pop_back();
  o << "<div style=\"overflow-x:auto\">" << plot::html_table(mt.header, mt.rows) << "</div>\n";
  o << "<h3>Main defect observed</h3>\n" << plot::html_table({"activation", "main defect observed"}, defects);
  section("The seed's table, with measured values where it has stars");
  Table st = seed_table(r);
  o << plot::html_table(st.header, st.rows);
  section("The seed's claims and the guide's rows");
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : r.claims) rows.push_back({c.verdict, c.topic, c.claim, c.measured});
    o << plot::html_table({"verdict", "topic", "claim", "measured"}, rows);
  }

  section("Output and derivative");
  Chart fx{.title = "Activation f(x)", .x_label = "x", .y_label = "f(x)"}, dfx{.title = "Derivative f'(x)", .x_label = "x", .y_label = "f'(x)"};
  fx.y_min = -3;
  fx.y_max = 8;
  dfx.hlines = {{0.25, "0.25 (Sigmoid's maximum)"}};
  for (const auto& a : r.acts) {
    fx.series.push_back({a.spec, a.range.x, a.range.y});
    dfx.series.push_back({a.spec, a.range.x, a.range.dy});
  }
  figures({plot::svg(fx), plot::svg(dfx)});

  section("Speed");
  {
    plot::BarChart b{.title = "Throughput (" + std::to_string(r.budget.speed_numel) + " elements)", .y_label = "GB/s"};
    std::vector<double> f, bw;
    for (const auto& a : r.acts) {
      b.categories.push_back(a.spec);
      f.push_back(a.speed.forward_gbps);
      bw.push_back(a.speed.backward_gbps);
    }
    b.groups = {{"forward", f}, {"backward", bw}};
    b.hlines = {{r.copy_gbps, "copy"}};
    figures({plot::svg(b)});
  }

  section("Gradient norm per layer (20-layer MLP)");
  {
    std::vector<std::string> svgs;
    for (const char* init : {"default", "kaiming"})
      for (bool bn : {false, true})
        for (bool trained : {false, true}) {
          Chart c{.title = std::string(init) + " init" + (bn ? ", BatchNorm1d" : "") + (trained ? ", after training" : ", at initialization"),
                  .x_label = "layer (1 = first, 21 = output)", .y_label = "weight gradient norm", .log_y = true};
          for (const auto& a : r.acts) {
            const GradCase& g = a.grad_case(init, bn);
            const auto& v = trained ? g.trained : g.at_init;
            c.series.push_back({a.spec, iota_from(v.size(), 1), v});
          }
          svgs.push_back(plot::svg(c));
        }
    figures(svgs);
  }

  section("Sparsity and dead units");
  {
    std::vector<std::string> svgs;
    for (int which = 0; which < 3; ++which) {
      Chart act{.title = std::string("Active fraction per layer, ") + (which == 0 ? "at initialization" : which == 1 ? "after normal lr" : "after high lr"),
                .x_label = "hidden layer", .y_label = "fraction of outputs > 0"};
      act.y_min = 0;
      act.y_max = 1;
      for (const auto& a : r.acts) {
        const SparseCase& s = which == 0 ? a.sparse_init : which == 1 ? a.sparse_normal : a.sparse_high;
        std::vector<double> y;
        for (const auto& l : s.layers) y.push_back(l.active_fraction);
        act.series.push_back({a.spec, iota_from(y.size(), 1), y});
      }
      svgs.push_back(plot::svg(act));
    }
    plot::BarChart dead{.title = "Dead units after training", .y_label = "fraction of units"};
    std::vector<double> dn, dh;
    for (const auto& a : r.acts) {
      dead.categories.push_back(a.spec);
      dn.push_back(a.sparse_normal.dead());
      dh.push_back(a.sparse_high.dead());
    }
    dead.groups = {{"lr " + fmt("%g", r.budget.normal_lr), dn}, {"lr " + fmt("%g", r.budget.high_lr), dh}};
    svgs.push_back(plot::svg(dead));
    figures(svgs);
  }

  if (!r.slopes.empty()) {
    section("LeakyReLU's slope");
    plot::BarChart sl{.title = "MLP test accuracy per LeakyReLU slope (0 = diverged)", .y_label = "test accuracy"};
    std::vector<double> n, hi;
    for (const auto& sc : r.slopes) {
      sl.categories.push_back("slope " + fmt("%g", sc.slope));
      n.push_back(sc.normal.test_accuracy);
      hi.push_back(sc.high.diverged ? 0.0 : sc.high.test_accuracy);
    }
    sl.groups = {{"lr " + fmt("%g", r.budget.normal_lr), n}, {"lr " + fmt("%g", r.budget.high_lr), hi}};
    figures({plot::svg(sl)});
  }
  section("Learning: seed-cnn, same budget");
  {
    Chart loss{.title = "seed-cnn training loss (moving average of 20 steps)", .x_label = "step", .y_label = "loss"};
    plot::BarChart acc{.title = "seed-cnn test accuracy", .y_label = "accuracy"};
    std::vector<double> av;
    for (const auto& a : r.acts) {
      loss.series.push_back({a.spec, iota_from(a.learn.step_losses.size(), 1), smooth(a.learn.step_losses, 20)});
      acc.categories.push_back(a.spec);
      av.push_back(a.learn.test_accuracy);
    }
    acc.groups = {{"test accuracy", av}};
    Chart curve{.title = "seed-cnn test accuracy per epoch", .x_label = "epoch", .y_label = "test accuracy"};
    for (const auto& a : r.acts) {
      std::vector<double> x, y;
      for (const auto& e : a.learn.history) {
        x.push_back(static_cast<double>(e.epoch));
        y.push_back(e.test_accuracy);
      }
      curve.series.push_back({a.spec, x, y});
    }
    figures({plot::svg(loss), plot::svg(acc), plot::svg(curve)});
  }

  section("Guide experiments");
  {
    std::vector<std::string> svgs;
    Chart bin{.title = "Binary: training loss (moving average of 20)", .x_label = "step", .y_label = "loss"};
    for (const auto& v : r.binary.variants) bin.series.push_back({v.name, iota_from(v.losses.size(), 1), smooth(v.losses, 20)});
    svgs.push_back(plot::svg(bin));
    Chart mc{.title = "Multiclass: training loss (moving average of 20)", .x_label = "step", .y_label = "loss"};
    for (const auto& v : r.multiclass.variants) mc.series.push_back({v.name, iota_from(v.losses.size(), 1), smooth(v.losses, 20)});
    svgs.push_back(plot::svg(mc));
    Chart rt{.title = "RNN: ||dL/dx_t|| through time", .x_label = "row t", .y_label = "gradient norm", .log_y = true};
    for (const auto& v : r.rnn.variants) {
      rt.series.push_back({v.nonlinearity + " at init", iota_from(v.grad_norm_through_time_init.size(), 0), v.grad_norm_through_time_init, true});
      rt.series.push_back({v.nonlinearity + " trained", iota_from(v.grad_norm_through_time_trained.size(), 0), v.grad_norm_through_time_trained});
    }
    svgs.push_back(plot::svg(rt));
    Chart rl{.title = "RNN: training loss (moving average of 20)", .x_label = "step", .y_label = "loss"};
    Chart rg{.title = "RNN: parameter gradient norm per step", .x_label = "step", .y_label = "gradient norm", .log_y = true};
    for (const auto& v : r.rnn.variants) {
      rl.series.push_back({v.nonlinearity, iota_from(v.losses.size(), 1), smooth(v.losses, 20)});
      rg.series.push_back({v.nonlinearity, iota_from(v.grad_norms.size(), 1), v.grad_norms});
    }
    svgs.push_back(plot::svg(rl));
    svgs.push_back(plot::svg(rg));
    Chart gl{.title = "GAN: losses (moving average of 20)", .x_label = "step", .y_label = "loss"};
    Chart gg{.title = "GAN: gradient norm reaching the generator", .x_label = "step", .y_label = "mean ||dL_G/d fake||", .log_y = true};
    for (const auto& v : r.gan.variants) {
      gl.series.push_back({"D loss, D " + v.discriminator_act, iota_from(v.d_losses.size(), 1), smooth(v.d_losses, 20)});
      gl.series.push_back({"G loss, D " + v.discriminator_act, iota_from(v.g_losses.size(), 1), smooth(v.g_losses, 20), true});
      gg.series.push_back({"D " + v.discriminator_act, iota_from(v.generator_grad.size(), 1), smooth(v.generator_grad, 20)});
    }
    svgs.push_back(plot::svg(gl));
    svgs.push_back(plot::svg(gg));
    figures(svgs);
  }
  o << "<p>Every number is in <code>results.json</code>; TensorBoard runs are in <code>" << h(r.runs_dir) << "</code>.</p>\n";
  return plot::html_page("actlab compare", o.str());
}

std::string now_text(const char* f) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, f, &tm);
  return buf;
}

}  // namespace

CompareOutput run_compare(const CompareConfig& config) {
  auto t0 = clock_type::now();
  auto say = [&](const std::string& s) {
    if (config.log) config.log(detail::concat("[", fmt("%5.0f", std::chrono::duration<double>(clock_type::now() - t0).count()), " s] ", s));
  };
  Results r;
  r.config = config;
  r.budget = budget_for(config.quick, config.seed);
  const Budget& b = r.budget;
  if (config.acts.empty()) throw ValueError("--acts: give at least one activation");
  for (const auto& spec : config.acts) {
    nn::ActivationSpec s = nn::parse_activation_spec(spec);
    int id = static_cast<int>(s.id);
    if (id >= kernels::kNumPointwise && s.id != kernels::ActId::PReLU && s.id != kernels::ActId::RReLU)
      throw ValueError(detail::concat("--acts: ", s.row().name,
                                      " is not elementwise; compare measures hidden-layer activations (e.g. ReLU, GELU, PReLU)"));
    if (s.inplace())
      throw ValueError(detail::concat("--acts: ", spec, ": use the out-of-place form (inplace=False) for comparisons"));
    for (const auto& other : config.acts)
      if (&other != &spec && nn::parse_activation_spec(other).to_string() == s.to_string())
        throw ValueError(detail::concat("--acts: ", s.to_string(), " is given twice"));
  }
  r.started = now_text("%Y-%m-%d %H:%M:%S UTC");
  r.runs_dir = config.out_dir + "/runs/" + now_text("%Y%m%d-%H%M%S");

  say("loading data");
  Split train_split = load_split(config.data_dir, true);
  Split test_full = load_split(config.data_dir, false);
  Split test = first_rows(test_full, b.eval_images);
  Split probe = first_rows(test_full, 256);
  std::filesystem::create_directories(config.out_dir);  // after the data loaded: a bad run creates nothing
  r.train_images = train_split.images.size(0);
  r.test_images = test.images.size(0);

  say("speed: copy and every activation at " + std::to_string(b.speed_numel) + " elements");
  r.copy_gbps = measure_copy_gbps(b.speed_numel, b.speed_min_time);
  for (const auto& spec : config.acts) {
    ActResult a;
    a.spec = nn::parse_activation_spec(spec).to_string();
    a.slug = slug(a.spec);
    a.speed = measure_speed(a.spec, {b.speed_numel}, b.speed_min_time);
    a.range = measure_range(a.spec);
    r.acts.push_back(std::move(a));
  }
  for (auto& a : r.acts) {
    say(a.spec + ": gradient stability (20-layer MLP, default/kaiming init, with/without BatchNorm1d)");
    measure_gradients(a, train_split, test, probe, b, config, r.runs_dir);
    say(a.spec + ": sparsity and dead units (lr " + fmt("%g", b.normal_lr) + " and " + fmt("%g", b.high_lr) + ")");
    a.sparse_init = sparse_run(a, 0, train_split, test, b, config, "");
    a.sparse_normal = sparse_run(a, b.normal_lr, train_split, test, b, config, r.runs_dir + "/sparsity-normal-lr-" + a.slug);
    a.sparse_high = sparse_run(a, b.high_lr, train_split, test, b, config, r.runs_dir + "/sparsity-high-lr-" + a.slug);
    say(a.spec + ": learning (seed-cnn)");
    measure_learning(a, train_split, test, b, config, r.runs_dir);
    say(a.spec + ": seed-cnn test accuracy " + pct(a.learn.test_accuracy));
  }
  if (find(r, "LeakyReLU") != nullptr) {
    say("LeakyReLU's slope: 0.01, 0.1, 0.3 at both learning rates");
    for (double slope : {0.01, 0.1, 0.3}) {
      ActResult a;
      a.spec = nn::parse_activation_spec(detail::concat("LeakyReLU(negative_slope=", slope, ")")).to_string();
      a.slug = slug(a.spec);
      SlopeCase sc{slope, sparse_run(a, b.normal_lr, train_split, test, b, config, r.runs_dir + "/slope-normal-lr-" + a.slug),
                   sparse_run(a, b.high_lr, train_split, test, b, config, r.runs_dir + "/slope-high-lr-" + a.slug)};
      r.slopes.push_back(std::move(sc));
    }
  }
  say("guide: binary output (Sigmoid + BCELoss vs BCEWithLogitsLoss)");
  r.binary = binary_experiment(train_split, test, config.binary_class_a, config.binary_class_b, b.guide, r.runs_dir);
  say("guide: multiclass output (Softmax vs independent Sigmoids)");
  r.multiclass = multiclass_experiment(train_split, test, b.guide, r.runs_dir);
  say("guide: RNN over image rows (tanh vs relu)");
  r.rnn = rnn_experiment(train_split, test, b.guide, r.runs_dir);
  say("guide: GAN discriminator (ReLU vs LeakyReLU)");
  r.gan = gan_experiment(train_split, b.guide, r.runs_dir);

  observe_defects(r);
  judge(r);
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();

  CompareOutput out;
  out.report_md = config.out_dir + "/report.md";
  out.report_html = config.out_dir + "/report.html";
  out.results_json = config.out_dir + "/results.json";
  out.runs_dir = r.runs_dir;
  std::string md = report_markdown(r), html = report_html(r), js = to_json(r).dump(1) + "\n";
  AtomicFileSet files;
  files.add(out.report_md, md.data(), md.size());
  files.add(out.report_html, html.data(), html.size());
  files.add(out.results_json, js.data(), js.size());
  files.commit();
  out.seconds = r.seconds;
  say("wrote " + out.report_md + ", " + out.report_html + ", " + out.results_json);
  return out;
}

}  // namespace actlab::lab
