// actlab visualize: the seed's ReLU-versus-Sigmoid picture. An input batch, its ReLU output and its
// Sigmoid output go to TensorBoard as images (add_images), and the same three grids side by side into one
// PNG for people without TensorBoard.
#include <cstdio>

#include "actlab/actlab.h"
#include "actlab/data/mnist.h"
#include "actlab/nn/activation.h"
#include "actlab/tensorboard/png.h"
#include "actlab/tensorboard/summary_writer.h"
#include "cli/cli.h"

namespace actlab::cli {

namespace {

struct VisualizeOptions {
  std::string input = "fashion-mnist";  // fashion-mnist | random | a PNG path
  std::string logdir;
  std::string out = "grid.png";
  std::string data_dir;
  int64_t count = 16;
  uint64_t seed = 0;
};

// The input batch as NCHW floats in [0, 1] (what the seed calls the image before Normalize).
Tensor load_input(const VisualizeOptions& o) {
  if (o.input == "random") {
    // The seed's torch.randn(1, 3, 224, 224), smaller: values in N(0, 1), shown clipped to [0, 1].
    Generator g(o.seed);
    return randn({o.count, 3, 64, 64}, {}, &g);
  }
  if (o.input == "fashion-mnist") {
    data::FashionMNIST ds(o.data_dir.empty() ? data::default_data_dir() : o.data_dir, false);
    int64_t n = std::min<int64_t>(o.count, ds.size());
    return ds.images_as_float().narrow(0, 0, n).contiguous();
  }
  tensorboard::Image img = tensorboard::read_png(o.input);
  int64_t c = img.channels >= 3 ? 3 : 1;
  Tensor t = empty({1, c, img.height, img.width});
  float* p = t.data_ptr<float>();
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < img.height; ++y)
      for (int64_t x = 0; x < img.width; ++x)
        p[(ch * img.height + y) * img.width + x] =
            img.pixels[static_cast<size_t>((y * img.width + x) * img.channels + ch)] / 255.0f;
  return t;
}

tensorboard::Image grid(const Tensor& batch) {
  Tensor c = batch.contiguous();
  return tensorboard::make_image(std::span<const float>(c.data_ptr<float>(), static_cast<size_t>(c.numel())),
                                 c.sizes(), "NCHW");
}

// Three RGB grids side by side with a white gap.
tensorboard::Image side_by_side(const std::vector<tensorboard::Image>& grids, int64_t gap) {
  tensorboard::Image out;
  out.channels = 3;
  for (const auto& g : grids) {
    out.height = std::max(out.height, g.height);
    out.width += g.width;
  }
  out.width += gap * static_cast<int64_t>(grids.size() - 1);
  out.pixels.assign(static_cast<size_t>(out.height * out.width * 3), 255);
  int64_t x0 = 0;
  for (const auto& g : grids) {
    for (int64_t y = 0; y < g.height; ++y)
      for (int64_t x = 0; x < g.width; ++x)
        for (int ch = 0; ch < 3; ++ch)
          out.pixels[static_cast<size_t>((y * out.width + x0 + x) * 3 + ch)] =
              g.pixels[static_cast<size_t>((y * g.width + x) * g.channels + (g.channels == 3 ? ch : 0))];
    x0 += g.width + gap;
  }
  return out;
}

}  // namespace

void add_visualize(CLI::App& app, Action& action) {
  auto opt = std::make_shared<VisualizeOptions>();
  CLI::App* sub = app.add_subcommand("visualize", "the seed's picture: an input batch, its ReLU and its Sigmoid output");
  sub->add_option("--input", opt->input, "fashion-mnist (default: a test batch), random, or a PNG file");
  sub->add_option("--logdir", opt->logdir, "TensorBoard log directory (default runs/<date>_<host>)");
  sub->add_option("--out", opt->out, "the three grids side by side as one PNG (default grid.png)");
  sub->add_option("--data", opt->data_dir, "MNIST-format data directory");
  sub->add_option("--count", opt->count, "images in the batch (default 16)")->check(CLI::Range(int64_t{1}, int64_t{256}));
  sub->add_option("--seed", opt->seed, "seed for --input random");
  sub->callback([&action, opt] {
    action = [opt]() -> int {
      Tensor input = load_input(*opt);
      // The network sees the normalized image (Normalize(0.5, 0.5)), as in the seed's transform.
      Tensor normalized = opt->input == "random" ? input : (input - 0.5) / 0.5;
      Tensor relu_out = nn::ReLU()(normalized);
      Tensor sigmoid_out = nn::Sigmoid()(normalized);
      tensorboard::Image png = side_by_side({grid(input), grid(relu_out), grid(sigmoid_out)}, 4);
      tensorboard::SummaryWriter writer(opt->logdir);
      writer.add_images("input", input, 0);
      writer.add_images("ReLU_output", relu_out, 0);
      writer.add_images("Sigmoid_output", sigmoid_out, 0);
      writer.close();
      tensorboard::write_png(opt->out, png);
      auto frac = [](const Tensor& t, double lo) { return (t > lo).to(kFloat32).mean().item<double>(); };
      std::printf("input %s: %lld image(s) of %lldx%lld\n", opt->input.c_str(), static_cast<long long>(input.size(0)),
                  static_cast<long long>(input.size(2)), static_cast<long long>(input.size(3)));
      std::printf("ReLU keeps %.1f%% of the pixels (the bright ones) and zeroes the rest; output range [%.3f, %.3f]\n",
                  100 * frac(relu_out, 0.0), relu_out.min().item<double>(), relu_out.max().item<double>());
      std::printf("Sigmoid squeezes everything into [%.3f, %.3f] (input range [%.3f, %.3f]): lower contrast\n",
                  sigmoid_out.min().item<double>(), sigmoid_out.max().item<double>(), normalized.min().item<double>(),
                  normalized.max().item<double>());
      std::printf("wrote %s and TensorBoard images to %s\n", opt->out.c_str(), writer.get_logdir().c_str());
      return 0;
    };
  });
}

}  // namespace actlab::cli
