// Kernel selection: SIMD (Highway, runtime dispatch) or the scalar reference.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/activation_kernels.h"
#include "kernels/simd.h"

namespace actlab::kernels {
namespace {
bool env_reference() {
  const char* v = std::getenv("ACTLAB_REFERENCE_KERNELS");
  return v != nullptr && std::strcmp(v, "1") == 0;
}
std::atomic<bool>& reference_flag() {
  static std::atomic<bool> flag{env_reference()};  // the environment is read once
  return flag;
}
}  // namespace

bool reference_kernels() { return reference_flag().load(std::memory_order_relaxed); }
void set_reference_kernels(bool on) { reference_flag().store(on, std::memory_order_relaxed); }

std::string simd_target() {
  if (reference_kernels()) return "scalar reference";
  return internal::simd_target_name();
}

}  // namespace actlab::kernels
