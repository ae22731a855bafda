// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0).
//
// Only what actlab exchanges is supported: little-endian float32 ('<f4') and float64 ('<f8') arrays in C
// order, of any rank (0-d included) and any shape (empty included). Everything else is rejected with an
// NpyError whose message names the file and says what is wrong. The reader checks every size against the
// bytes actually present before it allocates, so a corrupt header cannot make it allocate a huge buffer.
//
// Deliberately free of any Tensor type: the layers above convert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "actlab/core/error.h"
#include <string>
#include <vector>

namespace actlab {

// Thrown for every problem with a .npy file: I/O errors, malformed or unsupported content.
class NpyError : public Error {
 public:
  using Error::Error;
};

enum class NpyDtype { Float32, Float64 };

// Bytes per element: 4 for Float32, 8 for Float64.
size_t npy_itemsize(NpyDtype dtype);
// The .npy descr string: "<f4" or "<f8".
const char* npy_descr(NpyDtype dtype);

struct NpyArray {
  NpyDtype dtype = NpyDtype::Float32;
  std::vector<int64_t> shape;        // empty for a 0-d array
  std::vector<unsigned char> data;   // C order, little-endian; numel() * itemsize() bytes

  int64_t numel() const;             // product of shape; 1 for 0-d
  size_t itemsize() const { return npy_itemsize(dtype); }
};

// Reads a whole .npy file. Throws NpyError naming `path` on any problem.
NpyArray read_npy(const std::string& path);

// Parses an in-memory .npy image of `size` bytes; `name_for_errors` stands for the file in messages.
NpyArray parse_npy(const unsigned char* bytes, size_t size, const std::string& name_for_errors);

// Writes `data` (numel(shape) elements of `dtype`, C order, native floats) as a .npy file.
// The file is written to `path + ".tmp-<pid>"`, fsync'ed and renamed over `path`, so readers never see a
// partial file. On failure the temporary file is removed, any existing file at `path` is left untouched,
// and NpyError is thrown.
void write_npy(const std::string& path, NpyDtype dtype, const std::vector<int64_t>& shape, const void* data);
// Same, for an NpyArray (its data must hold exactly numel() * itemsize() bytes).
void write_npy(const std::string& path, const NpyArray& array);

// The complete .npy image (header and data) that write_npy would write.
std::vector<unsigned char> encode_npy(NpyDtype dtype, const std::vector<int64_t>& shape, const void* data);

}  // namespace actlab
