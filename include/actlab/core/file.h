// Writing files so that a crash or an error never leaves half a file, and never destroys what was there:
// data goes to a temporary name in the same directory, is flushed to disk, then renamed over the target.
#pragma once

#include <string>
#include <vector>

namespace actlab {

// Writes `bytes` to `path` atomically. Throws IOError (the temporary is removed, `path` is untouched).
void write_file_atomic(const std::string& path, const void* data, size_t size);
std::vector<unsigned char> read_file(const std::string& path, size_t max_size = size_t{1} << 34);

// Several files that appear together or not at all: each add() writes a temporary; commit() renames them
// all; the destructor removes whatever was not committed.
class AtomicFileSet {
 public:
  AtomicFileSet() = default;
  ~AtomicFileSet();
  AtomicFileSet(const AtomicFileSet&) = delete;
  AtomicFileSet& operator=(const AtomicFileSet&) = delete;
  void add(const std::string& path, const void* data, size_t size);
  void commit();

 private:
  std::vector<std::pair<std::string, std::string>> pending_;  // (temporary, target)
};

}  // namespace actlab
