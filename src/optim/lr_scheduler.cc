#include "actlab/optim/lr_scheduler.h"

#include <cmath>

namespace actlab::optim {

namespace {
int64_t python_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
}  // namespace

LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) {
  for (auto& g : opt_.param_groups()) {
    if (!g.has_initial_lr) {
      g.initial_lr = g.lr;
      g.has_initial_lr = true;
    }
    base_lrs_.push_back(g.initial_lr);
  }
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  std::vector<double> lrs = get_lr();
  auto& groups = opt_.param_groups();
  for (size_t i = 0; i < groups.size() && i < lrs.size(); ++i) groups[i].lr = lrs[i];
  last_lr_ = lrs;
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma)
    : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) throw ValueError(detail::concat("StepLR: step_size must be positive, got ", step_size));
  initial_step();
}

std::vector<double> StepLR::get_lr() const {
  std::vector<double> out;
  for (const auto& g : opt_.param_groups()) {
    if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0)
      out.push_back(g.lr);
    else
      out.push_back(g.lr * gamma_);
  }
  return out;
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt), T_max_(T_max), eta_min_(eta_min) {
  if (T_max <= 0) throw ValueError(detail::concat("CosineAnnealingLR: T_max must be positive, got ", T_max));
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() const {
  const double pi = M_PI;
  const double T = static_cast<double>(T_max_);
  const double e = static_cast<double>(last_epoch_);
  std::vector<double> out;
  const auto& groups = opt_.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    const double lr = groups[i].lr, base = base_lrs_[i];
    if (last_epoch_ == 0) {
      out.push_back(lr);
    } else if (step_count_ == 1 && last_epoch_ > 0) {
      out.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(e * pi / T)) / 2);
    } else if (python_mod(last_epoch_ - 1 - T_max_, 2 * T_max_) == 0) {
      out.push_back(lr + (base - eta_min_) * (1 - std::cos(pi / T)) / 2);
    } else {
      out.push_back((1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (lr - eta_min_) + eta_min_);
    }
  }
  return out;
}

}  // namespace actlab::optim
