#pragma once

namespace actlab {

// Whether ops record autograd history on this thread (torch.is_grad_enabled).
bool is_grad_enabled();
void set_grad_enabled(bool on);

// Scope in which no history is recorded, as `with torch.no_grad():`.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace actlab
