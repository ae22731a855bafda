#include "actlab/core/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "actlab/core/error.h"

namespace actlab {

namespace {

std::string temp_name(const std::string& path) {
  static int counter = 0;
  return detail::concat(path, ".tmp-", ::getpid(), "-", counter++);
}

void write_temp(const std::string& tmp, const std::string& path, const void* data, size_t size) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw IOError(detail::concat("cannot write ", path, ": ", std::strerror(errno)));
  const char* p = static_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IOError(detail::concat("cannot write ", path, ": ", std::strerror(err)));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw IOError(detail::concat("cannot write ", path, ": ", std::strerror(err)));
  }
}

void rename_into_place(const std::string& tmp, const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw IOError(detail::concat("cannot write ", path, ": ", std::strerror(err)));
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  std::string tmp = temp_name(path);
  write_temp(tmp, path, data, size);
  rename_into_place(tmp, path);
}

std::vector<unsigned char> read_file(const std::string& path, size_t max_size) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IOError(detail::concat("cannot open ", path, ": ", std::strerror(errno)));
  f.seekg(0, std::ios::end);
  std::streamoff len = f.tellg();
  if (len < 0) throw IOError(detail::concat("cannot read ", path));
  if (static_cast<size_t>(len) > max_size)
    throw IOError(detail::concat(path, " is too large (", len, " bytes; the limit is ", max_size, ")"));
  f.seekg(0);
  std::vector<unsigned char> bytes(static_cast<size_t>(len));
  if (len > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), len))
    throw IOError(detail::concat("cannot read ", path));
  return bytes;
}

AtomicFileSet::~AtomicFileSet() {
  for (auto& [tmp, target] : pending_) ::unlink(tmp.c_str());
}

void AtomicFileSet::add(const std::string& path, const void* data, size_t size) {
  for (auto& [tmp, target] : pending_)
    if (target == path) throw IOError(detail::concat("the same output file is named twice: ", path));
  std::string tmp = temp_name(path);
  write_temp(tmp, path, data, size);
  pending_.emplace_back(tmp, path);
}

void AtomicFileSet::commit() {
  for (auto& [tmp, target] : pending_) rename_into_place(tmp, target);
  pending_.clear();
}

}  // namespace actlab
