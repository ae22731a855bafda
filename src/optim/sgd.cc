#include "actlab/optim/sgd.h"

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/core/tensor_impl.h"
#include "actlab/nn/module.h"
#include "core/dispatch.h"

namespace actlab::optim {

using nn::format_float;

SGD::SGD(std::vector<Tensor> params, SGDOptions o) : Optimizer(std::move(params), o.lr.value_or(0.0)), o_(o) {
  if (!o.lr) throw ValueError("parameter group didn't specify a value of required optimization parameter lr");
  if (*o.lr < 0.0) throw ValueError("Invalid learning rate: " + format_float(*o.lr));
  if (o.momentum < 0.0) throw ValueError("Invalid momentum value: " + format_float(o.momentum));
  if (o.weight_decay < 0.0) throw ValueError("Invalid weight_decay value: " + format_float(o.weight_decay));
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
    throw ValueError("Nesterov momentum requires a momentum and zero dampening");
}

void SGD::step() {
  for_each_param_with_grad("SGD", [&](Tensor& p, const Tensor& g, ParamState& st, double lr) {
    Tensor* buf = o_.momentum != 0 ? st.find("momentum_buffer") : nullptr;
    const bool first = o_.momentum != 0 && buf == nullptr;
    if (first) {
      st.buffers.emplace_back("momentum_buffer", zeros_like(p));
      buf = &st.buffers.back().second;
    }
    dispatch_floating(p.dtype(), "sgd", [&](auto tag) {
      using T = decltype(tag);
      T* pp = p.data_ptr<T>();
      const T* gp = g.data_ptr<T>();
      T* bp = buf ? buf->data_ptr<T>() : nullptr;
      const T wd = static_cast<T>(o_.weight_decay), mom = static_cast<T>(o_.momentum);
      const T damp = static_cast<T>(1.0 - o_.dampening), neg_lr = static_cast<T>(-lr);
      const bool use_wd = o_.weight_decay != 0, nesterov = o_.nesterov, maximize = o_.maximize;
      const int64_t n = p.numel();
      for (int64_t i = 0; i < n; ++i) {
        T d = maximize ? -gp[i] : gp[i];
        if (use_wd) d = d + wd * pp[i];
        if (bp) {
          T b;
          if (first) {
            b = d;
          } else {
            b = bp[i] * mom;
            b = b + damp * d;
          }
          bp[i] = b;
          d = nesterov ? d + mom * b : b;
        }
        pp[i] = pp[i] + neg_lr * d;
      }
    });
  });
}

}  // namespace actlab::optim
