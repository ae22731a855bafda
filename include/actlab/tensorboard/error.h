// The one exception type the TensorBoard writer throws.
#pragma once

#include <string>

#include "actlab/core/error.h"

namespace actlab::tensorboard {

// Thrown for every user-visible failure of the writer: a log_dir that cannot be created, an
// unknown dataformats string, a shape that does not match the data, a bad PNG file, a failed
// write. The message is one line and names the function that failed.
class TensorboardError : public Error {
 public:
  explicit TensorboardError(const std::string& message) : Error(message) {}
};

}  // namespace actlab::tensorboard
