#include <gtest/gtest.h>

#include "actlab/actlab.h"
#include "actlab/optim/adam.h"
#include "actlab/optim/lr_scheduler.h"
#include "actlab/optim/sgd.h"
#include "nn/train_golden.h"

using namespace actlab;
using actlab::testing::expect_near_json;
using actlab::testing::tensor_from_json;
using json = nlohmann::json;

namespace {

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& kind, const json& o, std::vector<Tensor> ps) {
  if (kind == "sgd") {
    optim::SGDOptions s;
    s.lr = o["lr"].get<double>();
    s.momentum = o.value("momentum", 0.0);
    s.dampening = o.value("dampening", 0.0);
    s.weight_decay = o.value("weight_decay", 0.0);
    s.nesterov = o.value("nesterov", false);
    s.maximize = o.value("maximize", false);
    return std::make_unique<optim::SGD>(ps, s);
  }
  std::pair<double, double> betas{0.9, 0.999};
  if (o.contains("betas")) betas = {o["betas"][0].get<double>(), o["betas"][1].get<double>()};
  if (kind == "adam")
    return std::make_unique<optim::Adam>(
        ps, optim::AdamOptions{o.value("lr", 1e-3), betas, o.value("eps", 1e-8), o.value("weight_decay", 0.0),
                               o.value("amsgrad", false)});
  return std::make_unique<optim::AdamW>(
      ps, optim::AdamWOptions{o.value("lr", 1e-3), betas, o.value("eps", 1e-8), o.value("weight_decay", 1e-2),
                              o.value("amsgrad", false)});
}

std::vector<Tensor> fresh_params(const json& g) {
  std::vector<Tensor> ps;
  for (auto& p : g["params"]) {
    Tensor t = tensor_from_json(p);
    t.requires_grad_(true);
    ps.push_back(t);
  }
  return ps;
}

void set_grads(std::vector<Tensor>& ps, const json& step) {
  for (size_t i = 0; i < ps.size(); ++i) ps[i].set_grad(tensor_from_json(step[i]));
}

}  // namespace

TEST(Optim, GoldenTrajectories) {
  json g = actlab::testing::load_train_golden("optim");
  ASSERT_EQ(g["cases"].size(), 10u);
  for (auto& c : g["cases"]) {
    std::string what = c["kind"].get<std::string>() + " " + c["options"].dump();
    std::vector<Tensor> ps = fresh_params(g);
    auto opt = make_optimizer(c["kind"], c["options"], ps);
    for (size_t s = 0; s < 5; ++s) {
      set_grads(ps, g["grads"][s]);
      opt->step();
      for (size_t i = 0; i < ps.size(); ++i)
        expect_near_json(ps[i], c["trajectory"][s][i], 1e-5, 1e-6, what + " step " + std::to_string(s + 1));
    }
    EXPECT_TRUE(ps[0].is_leaf());
    EXPECT_EQ(ps[0].grad_fn(), nullptr);
  }
}

TEST(Optim, SkipsParamsWithoutGradAndZeroGrad) {
  Tensor a = ones({3}), b = ones({2});
  a.requires_grad_(true);
  b.requires_grad_(true);
  optim::SGD opt({a, b}, {.lr = 0.5});
  a.set_grad(full({3}, 2.0));
  opt.step();
  EXPECT_EQ(a.to_vector(), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(b.to_vector(), (std::vector<double>{1, 1}));
  opt.zero_grad(false);
  EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{0, 0, 0}));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

TEST(Optim, Errors) {
  Tensor p = ones({2});
  p.requires_grad_(true);
  auto expect_msg = [](auto fn, const std::string& msg) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected: " << msg;
    } catch (const ValueError& e) {
      EXPECT_EQ(std::string(e.what()), msg);
    }
  };
  expect_msg([&] { optim::SGD({p}, {.lr = -0.1}); }, "Invalid learning rate: -0.1");
  expect_msg([&] { optim::SGD({p}, {.lr = 0.1, .momentum = -1}); }, "Invalid momentum value: -1.0");
  expect_msg([&] { optim::SGD({p}, {.lr = 0.1, .weight_decay = -1e-5}); }, "Invalid weight_decay value: -1e-05");
  expect_msg([&] { optim::SGD({p}, {.lr = 0.1, .nesterov = true}); },
             "Nesterov momentum requires a momentum and zero dampening");
  expect_msg([&] { optim::SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
             "Nesterov momentum requires a momentum and zero dampening");
  expect_msg([&] { optim::SGD({p}, {}); },
             "parameter group didn't specify a value of required optimization parameter lr");
  expect_msg([&] { optim::SGD({}, {.lr = 0.1}); }, "optimizer got an empty parameter list");
  expect_msg([&] { optim::Adam({p}, {.betas = {1.0, 0.999}}); }, "Invalid beta parameter at index 0: 1.0");
  expect_msg([&] { optim::Adam({p}, {.eps = -1.0}); }, "Invalid epsilon value: -1.0");
  expect_msg([&] { optim::AdamW({p}, {.lr = -1.0}); }, "Invalid learning rate: -1.0");
  expect_msg([&] { optim::Adam({p * 2.0}); }, "can't optimize a non-leaf Tensor");
}

TEST(Optim, StateDictRoundTripContinuesIdentically) {
  json g = actlab::testing::load_train_golden("optim");
  for (std::string kind : {"sgd", "adam"}) {
    json o = kind == "sgd" ? json{{"lr", 0.1}, {"momentum", 0.9}} : json{{"lr", 0.01}, {"amsgrad", true}};
    std::vector<Tensor> pa = fresh_params(g);
    auto a = make_optimizer(kind, o, pa);
    for (size_t s = 0; s < 2; ++s) {
      set_grads(pa, g["grads"][s]);
      a->step();
    }
    auto sd = a->state_dict();
    ASSERT_FALSE(sd.empty());
    std::vector<Tensor> pb;
    for (auto& p : pa) {
      Tensor c = p.detach().clone();
      c.requires_grad_(true);
      pb.push_back(c);
    }
    json o2 = o;
    o2["lr"] = 0.5;  // the lr comes from the state dict
    auto b = make_optimizer(kind, o2, pb);
    b->load_state_dict(sd);
    EXPECT_EQ(b->lr(), a->lr());
    for (size_t s = 2; s < 5; ++s) {
      set_grads(pa, g["grads"][s]);
      set_grads(pb, g["grads"][s]);
      a->step();
      b->step();
    }
    for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(pa[i].equal(pb[i])) << kind;
    // The saved dict is a copy: later steps did not change it.
    auto sd_now = a->state_dict();
    bool any_diff = false;
    for (size_t i = 0; i < sd.size(); ++i) any_diff = any_diff || !sd[i].second.equal(sd_now[i].second);
    EXPECT_TRUE(any_diff);
    // Wrong shapes and unknown keys are errors.
    optim::OptimizerStateDict bad = sd;
    bad[0].second = zeros({7});
    if (kind == "sgd") EXPECT_THROW(b->load_state_dict(bad), ValueError);
    optim::OptimizerStateDict unknown = sd;
    unknown.emplace_back("state.0.bogus", zeros({3, 4}));
    EXPECT_THROW(b->load_state_dict(unknown), ValueError);
  }
}

TEST(Sched, GoldenLrSequences) {
  json g = actlab::testing::load_train_golden("optim");
  ASSERT_EQ(g["schedulers"].size(), 4u);
  for (auto& c : g["schedulers"]) {
    Tensor p = zeros({1});
    p.requires_grad_(true);
    optim::SGD opt({p}, {.lr = c["lr"].get<double>()});
    std::unique_ptr<optim::LRScheduler> s;
    auto& o = c["options"];
    if (c["kind"] == "step")
      s = std::make_unique<optim::StepLR>(opt, o["step_size"].get<int64_t>(), o.value("gamma", 0.1));
    else
      s = std::make_unique<optim::CosineAnnealingLR>(opt, o["T_max"].get<int64_t>(), o.value("eta_min", 0.0));
    auto lrs = c["lrs"].get<std::vector<double>>();
    EXPECT_DOUBLE_EQ(s->get_last_lr()[0], lrs[0]);
    EXPECT_EQ(s->last_epoch(), 0);
    for (size_t i = 1; i < lrs.size(); ++i) {
      opt.step();
      s->step();
      EXPECT_NEAR(s->get_last_lr()[0], lrs[i], 1e-15) << c["kind"] << " " << o.dump() << " step " << i;
      EXPECT_EQ(opt.lr(), s->get_last_lr()[0]);
    }
  }
}

TEST(Sched, Errors) {
  Tensor p = zeros({1});
  p.requires_grad_(true);
  optim::SGD opt({p}, {.lr = 0.1});
  EXPECT_THROW(optim::StepLR(opt, 0), ValueError);
  EXPECT_THROW(optim::CosineAnnealingLR(opt, 0), ValueError);
}
