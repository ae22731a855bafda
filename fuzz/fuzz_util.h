// Shared by the libFuzzer targets: an in-memory file with a path (for readers that open files by name) and
// the rule every target follows: an actlab::Error is the expected answer to a bad input; anything else (another
// exception, a sanitizer report, an abort) is a crash for libFuzzer to report.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "actlab/core/error.h"

namespace actlab::fuzz {

// The bytes in a memfd, readable at /proc/self/fd/N: no disk, no temporary names, closed on destruction.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = ::memfd_create("actlab-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) std::abort();
    for (size_t done = 0; done < size;) {
      ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// Runs f; an actlab::Error must carry a message. Other exceptions escape (libFuzzer reports them as crashes).
template <class F>
void expect_only_actlab_errors(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (std::string(e.what()).empty()) {
      std::fprintf(stderr, "actlab::Error without a message\n");
      std::abort();
    }
  }
}

// A broken invariant on a successfully read input.
#define ACTLAB_FUZZ_CHECK(cond)                                                            \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

}  // namespace actlab::fuzz

// A target's body: `ACTLAB_FUZZ_TARGET(npy) { ...data, size... }` defines actlab::fuzz::npy_target(data, size).
// Built as a fuzzer (ACTLAB_LIBFUZZER, fuzz/CMakeLists.txt) it is also libFuzzer's entry point; the test suite
// compiles the same files and runs every committed corpus file through them (tests/fuzz/corpus_test.cc).
#ifdef ACTLAB_LIBFUZZER
#define ACTLAB_FUZZ_TARGET(name)                                                                              \
  namespace actlab::fuzz {                                                                                   \
  int name##_target(const uint8_t* data, size_t size);                                                       \
  }                                                                                                          \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {                                  \
    return actlab::fuzz::name##_target(data, size);                                                         \
  }                                                                                                          \
  int actlab::fuzz::name##_target(const uint8_t* data, size_t size)
#else
#define ACTLAB_FUZZ_TARGET(name)                          \
  namespace actlab::fuzz {                               \
  int name##_target(const uint8_t* data, size_t size);   \
  }                                                      \
  int actlab::fuzz::name##_target(const uint8_t* data, size_t size)
#endif
