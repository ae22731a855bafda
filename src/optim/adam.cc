#include "actlab/optim/adam.h"

#include <algorithm>
#include <cmath>

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/core/tensor_impl.h"
#include "actlab/nn/module.h"
#include "core/dispatch.h"

namespace actlab::optim {

using nn::format_float;

namespace {
void validate(double lr, std::pair<double, double> betas, double eps, double wd) {
  if (!(lr >= 0.0)) throw ValueError("Invalid learning rate: " + format_float(lr));
  if (!(eps >= 0.0)) throw ValueError("Invalid epsilon value: " + format_float(eps));
  if (!(betas.first >= 0.0 && betas.first < 1.0))
    throw ValueError("Invalid beta parameter at index 0: " + format_float(betas.first));
  if (!(betas.second >= 0.0 && betas.second < 1.0))
    throw ValueError("Invalid beta parameter at index 1: " + format_float(betas.second));
  if (!(wd >= 0.0)) throw ValueError("Invalid weight_decay value: " + format_float(wd));
}
}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions o) : Adam(std::move(params), o, false) {}

Adam::Adam(std::vector<Tensor> params, AdamOptions o, bool decoupled)
    : Optimizer(std::move(params), o.lr), o_(o), decoupled_(decoupled) {
  validate(o.lr, o.betas, o.eps, o.weight_decay);
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions o)
    : Adam(std::move(params), AdamOptions{o.lr, o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize}, true) {}

std::vector<std::string> Adam::buffer_names() const { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }

void Adam::step() {
  const double beta1 = o_.betas.first, beta2 = o_.betas.second;
  for_each_param_with_grad("Adam", [&](Tensor& p, const Tensor& g, ParamState& st, double lr) {
    if (!st.find("exp_avg")) {
      st.buffers.emplace_back("exp_avg", zeros_like(p));
      st.buffers.emplace_back("exp_avg_sq", zeros_like(p));
      if (o_.amsgrad) st.buffers.emplace_back("max_exp_avg_sq", zeros_like(p));
    }
    Tensor* m = st.find("exp_avg");
    Tensor* v = st.find("exp_avg_sq");
    Tensor* vmax = st.find("max_exp_avg_sq");
    if (o_.amsgrad && !vmax) {
      st.buffers.emplace_back("max_exp_avg_sq", zeros_like(p));
      m = st.find("exp_avg");
      v = st.find("exp_avg_sq");
      vmax = st.find("max_exp_avg_sq");
    }
    st.step += 1;
    const double step = static_cast<double>(st.step);
    const double bc1 = 1.0 - std::pow(beta1, step);
    const double bc2 = 1.0 - std::pow(beta2, step);
    const double step_size = lr / bc1;
    const double bc2_sqrt = std::sqrt(bc2);
    dispatch_floating(p.dtype(), "adam", [&](auto tag) {
      using T = decltype(tag);
      T* pp = p.data_ptr<T>();
      const T* gp = g.data_ptr<T>();
      T* mp = m->data_ptr<T>();
      T* vp = v->data_ptr<T>();
      T* xp = o_.amsgrad ? vmax->data_ptr<T>() : nullptr;
      const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
      const T omb1 = static_cast<T>(1.0 - beta1), omb2 = static_cast<T>(1.0 - beta2);
      const T wd = static_cast<T>(o_.weight_decay), decay = static_cast<T>(1.0 - lr * o_.weight_decay);
      const T bc2s = static_cast<T>(bc2_sqrt), eps = static_cast<T>(o_.eps);
      const T neg_step = static_cast<T>(-step_size);
      const bool use_wd = o_.weight_decay != 0, decoupled = decoupled_, maximize = o_.maximize;
      const int64_t n = p.numel();
      for (int64_t i = 0; i < n; ++i) {
        T gv = maximize ? -gp[i] : gp[i];
        if (decoupled) {
          pp[i] = pp[i] * decay;
        } else if (use_wd) {
          gv = gv + wd * pp[i];
        }
        T mv = mp[i] * b1;
        mv = mv + omb1 * gv;
        T vv = vp[i] * b2;
        vv = vv + omb2 * gv * gv;
        mp[i] = mv;
        vp[i] = vv;
        T s = vv;
        if (xp) {
          xp[i] = std::max(xp[i], vv);
          s = xp[i];
        }
        const T denom = std::sqrt(s) / bc2s + eps;
        pp[i] = pp[i] + neg_step * (mv / denom);
      }
    });
  });
}

}  // namespace actlab::optim
