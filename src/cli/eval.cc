// actlab eval: apply an activation to a .npy array (and its backward, given an output gradient).
#include "actlab/actlab.h"
#include "actlab/core/file.h"
#include "actlab/nn/activation.h"
#include "cli/cli.h"

namespace actlab::cli {

namespace {
struct EvalOptions {
  std::string act, in, out, grad_out, grad_in;
  int threads = 0;
};
}  // namespace

void add_eval(CLI::App& app, Action& action) {
  auto opt = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand("eval", "apply an activation to a .npy array; optionally its gradient");
  sub->add_option("--act", opt->act, "activation spec, e.g. ReLU, LeakyReLU(0.2), GELU(approximate='tanh')")->required();
  sub->add_option("--in", opt->in, "input .npy (little-endian float32 or float64, C order, any shape)")->required();
  sub->add_option("--out", opt->out, "output .npy (float32)")->required();
  auto* go = sub->add_option("--grad-out", opt->grad_out, "gradient of the output (.npy, the output's shape)");
  auto* gi = sub->add_option("--grad-in", opt->grad_in, "where to write the gradient of the input (.npy, float32)");
  go->needs(gi);
  gi->needs(go);
  sub->add_option("--threads", opt->threads, "threads for the kernels (default: all cores)")->check(CLI::Range(1, 1024));
  sub->callback([&action, opt] {
    action = [opt]() -> int {
      if (opt->threads > 0) set_num_threads(opt->threads);
      nn::ActivationSpec spec = nn::parse_activation_spec(opt->act);
      std::shared_ptr<nn::Activation> module = nn::make_activation(spec);
      module->eval();  // RReLU: the deterministic mean slope
      Tensor x = load_npy_tensor(opt->in).to(kFloat32);
      bool want_grad = !opt->grad_out.empty();
      Tensor g;
      if (want_grad) g = load_npy_tensor(opt->grad_out).to(kFloat32);
      if (want_grad) x.requires_grad_(true);
      Tensor input = want_grad && spec.inplace() ? x * 1.0 : x;  // in place on a leaf is PyTorch's error
      Tensor y;
      try {
        y = (*module)(input);
      } catch (const Error& e) {
        throw Error(detail::concat(spec.to_string(), " on input of shape ", shape_str(x.sizes()), ": ", e.what()));
      }
      AtomicFileSet files;
      std::vector<unsigned char> ybytes = encode_npy_tensor(y.detach());
      if (want_grad) {
        if (g.sizes() != y.sizes())
          throw Error(detail::concat("--grad-out has shape ", shape_str(g.sizes()), " but the output of ",
                                     spec.to_string(), " has shape ", shape_str(y.sizes())));
        y.backward(g);
        std::vector<unsigned char> gbytes = encode_npy_tensor(x.grad());
        files.add(opt->out, ybytes.data(), ybytes.size());
        files.add(opt->grad_in, gbytes.data(), gbytes.size());
      } else {
        files.add(opt->out, ybytes.data(), ybytes.size());
      }
      files.commit();
      return 0;
    };
  });
}

}  // namespace actlab::cli
