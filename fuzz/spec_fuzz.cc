// libFuzzer target: the activation spec parser ("LeakyReLU(negative_slope=0.2)"). A spec that parses must
// print as canonical text that parses back to the same spec, and its module must run on a small input (with
// 0, -0, NaN and infinities) or refuse it with an actlab error.
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include "actlab/actlab.h"
#include "actlab/nn/activation.h"
#include "fuzz_util.h"

ACTLAB_FUZZ_TARGET(spec) {
  using namespace actlab;
  if (size > 256) return 0;  // specs are short; longer inputs only slow the search
  std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_actlab_errors([&] {
    nn::ActivationSpec spec = nn::parse_activation_spec(text);
    const std::string canonical = spec.to_string();
    nn::ActivationSpec again = nn::parse_activation_spec(canonical);
    ACTLAB_FUZZ_CHECK(again.id == spec.id);
    ACTLAB_FUZZ_CHECK(again.to_string() == canonical);
    for (size_t i = 0; i < spec.values.size(); ++i) {
      const double a = spec.values[i], b = again.values[i];
      ACTLAB_FUZZ_CHECK((std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0 || a == b);
    }
    // PReLU(num_parameters=N) allocates N slopes, as in PyTorch: a spec may ask for gigabytes, which is the
    // user's call, not a parser fault. The module is built only where that stays small (the fuzzer's
    // memory limit is 2 GB; a fresh CI run found PReLU(num_parameters=536870912)).
    if (spec.id == kernels::ActId::PReLU && spec.values[0] > 65536) return;
    auto module = nn::make_activation(spec);
    module->eval();
    const float inf = std::numeric_limits<float>::infinity();
    Tensor x = tensor({0.0f, -0.0f, 1.5f, -2.0f, inf, -inf, std::nanf(""), 3e38f}).reshape({2, 4});
    Tensor y = (*module)(x);
    ACTLAB_FUZZ_CHECK(y.defined());
  });
  return 0;
}
