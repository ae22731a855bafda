// Every error actlab raises derives from actlab::Error, with PyTorch's message where PyTorch has one.
#pragma once

#include <stdexcept>
#include <string>

namespace actlab {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad argument values or shapes (Python's ValueError / PyTorch's RuntimeError on bad sizes).
class ValueError : public Error {
 public:
  using Error::Error;
};
// A dimension or index out of range (PyTorch's IndexError).
class IndexError : public Error {
 public:
  using Error::Error;
};
// A file that cannot be read or written, or whose contents are malformed.
class IOError : public Error {
 public:
  using Error::Error;
};

}  // namespace actlab

#define ACTLAB_CHECK(cond, ...)                                        \
  do {                                                                 \
    if (!(cond)) throw ::actlab::Error(::actlab::detail::concat(__VA_ARGS__)); \
  } while (0)

#include <sstream>
namespace actlab::detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace actlab::detail
