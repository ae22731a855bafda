// torch.optim.lr_scheduler: StepLR and CosineAnnealingLR with PyTorch's recursive update (the values
// PyTorch produces when step() is called once per epoch). Constructing one performs PyTorch's initial
// step: last_epoch becomes 0 and each group's lr is left at its initial value.
#pragma once

#include <cstdint>
#include <vector>

#include "actlab/optim/optimizer.h"

namespace actlab::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  // Advances one epoch and writes the new lr into every parameter group.
  void step();
  // The lrs set by the last step (one per group).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 protected:
  explicit LRScheduler(Optimizer& opt);
  void initial_step() { step(); }
  // The new lr of each group for last_epoch_ (already advanced).
  virtual std::vector<double> get_lr() const = 0;

  Optimizer& opt_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
};

// lr *= gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2, computed recursively as PyTorch does.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() const override;

 private:
  int64_t T_max_;
  double eta_min_;
};

}  // namespace actlab::optim
