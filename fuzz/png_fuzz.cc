// libFuzzer target: the PNG reader behind `actlab visualize --input FILE.png` (decode_png; read_png only adds
// reading the file). libpng reports errors by longjmp; they must come out as actlab errors.
#include <span>

#include "actlab/tensorboard/png.h"
#include "fuzz_util.h"

ACTLAB_FUZZ_TARGET(png) {
  using namespace actlab;
  fuzz::expect_only_actlab_errors([&] {
    tensorboard::Image img = tensorboard::decode_png(std::span<const uint8_t>(data, size), "fuzz.png");
    ACTLAB_FUZZ_CHECK(img.height > 0 && img.width > 0 && img.channels >= 1 && img.channels <= 4);
    ACTLAB_FUZZ_CHECK(img.pixels.size() == static_cast<size_t>(img.height * img.width * img.channels));
  });
  return 0;
}
