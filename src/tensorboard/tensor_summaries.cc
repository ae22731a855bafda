// SummaryWriter's Tensor forms: convert to contiguous float32 and forward to the span forms.
#include "actlab/autograd/grad_mode.h"
#include "actlab/tensorboard/summary_writer.h"

namespace actlab::tensorboard {

namespace {
Tensor as_float(const Tensor& t) {
  NoGradGuard ng;
  return t.detach().to(kFloat32).contiguous();
}
std::span<const float> span_of(const Tensor& t) { return {t.data_ptr<float>(), static_cast<size_t>(t.numel())}; }
}  // namespace

void SummaryWriter::add_histogram(const std::string& tag, const Tensor& values, std::int64_t step,
                                  std::optional<double> walltime) {
  Tensor f = as_float(values);
  add_histogram(tag, span_of(f), step, walltime);
}

void SummaryWriter::add_image(const std::string& tag, const Tensor& image, std::int64_t step,
                              std::string_view dataformats, std::optional<double> walltime) {
  Tensor f = as_float(image);
  add_image(tag, span_of(f), f.sizes(), step, dataformats, walltime);
}

void SummaryWriter::add_images(const std::string& tag, const Tensor& images, std::int64_t step,
                               std::string_view dataformats, std::optional<double> walltime) {
  Tensor f = as_float(images);
  add_images(tag, span_of(f), f.sizes(), step, dataformats, walltime);
}

}  // namespace actlab::tensorboard
