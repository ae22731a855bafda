// A caching allocator: freed blocks are kept in size classes and handed out again, so that the hot paths
// (an activation's output, a layer's gradient) do not fault in fresh pages every call. Fresh pages cost
// more than most activations themselves (measured: a 64 MB output on new pages runs at a third of the
// speed of one on reused pages).
#include <cstdlib>
#include <iterator>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "actlab/core/tensor_impl.h"

namespace actlab {
namespace {

constexpr size_t kAlignment = 64;
// Cached bytes beyond this are returned to the system at once.
constexpr size_t kMaxCachedBytes = size_t{4} << 30;

// Round a request up to its size class: multiples of 64 bytes below 4 KiB, then four classes per power
// of two (at most 25% waste).
size_t size_class(size_t n) {
  if (n == 0) n = 1;
  if (n <= 4096) return (n + 63) & ~size_t{63};
  size_t p = size_t{1} << (63 - __builtin_clzll(n));  // largest power of two <= n
  size_t q = p / 4;
  return (n + q - 1) / q * q;
}

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // class -> block
  size_t cached = 0;
  size_t allocated = 0;
  uint64_t system_allocations = 0;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destruction order
  return *c;
}

void* allocate(size_t nbytes) {
  size_t cls = size_class(nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    // The most recently freed block of the class: its pages are the likeliest to be in the caches and the
    // TLB. (multimap::find gave the oldest, so a loop that allocated and freed one 64 MB output cycled through
    // every cached block of that size; see the README's session-4 measurements.)
    auto range = c.free_blocks.equal_range(cls);
    if (range.first != range.second) {
      auto it = std::prev(range.second);
      void* p = it->second;
      c.free_blocks.erase(it);
      c.cached -= cls;
      c.allocated += cls;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlignment, cls);
  if (p == nullptr) {
    // Give the cache back and try once more before failing.
    empty_cache();
    p = std::aligned_alloc(kAlignment, cls);
    if (p == nullptr)
      throw Error(detail::concat("out of memory: could not allocate ", nbytes, " bytes for a tensor"));
  }
  std::lock_guard<std::mutex> lock(c.mu);
  c.allocated += cls;
  ++c.system_allocations;
  return p;
}

void deallocate(void* p, size_t nbytes) {
  if (p == nullptr) return;
  size_t cls = size_class(nbytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.allocated -= cls;
  if (c.cached + cls > kMaxCachedBytes) {
    std::free(p);
    return;
  }
  c.free_blocks.emplace(cls, p);
  c.cached += cls;
}

}  // namespace

Storage::Storage(size_t n) : data(allocate(n)), nbytes(n) {}
Storage::~Storage() { deallocate(data, nbytes); }

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return {c.allocated, c.cached, c.system_allocations};
}

void empty_cache() {
  Cache& c = cache();
  std::vector<void*> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& [cls, p] : c.free_blocks) blocks.push_back(p);
    c.free_blocks.clear();
    c.cached = 0;
  }
  for (void* p : blocks) std::free(p);
}

}  // namespace actlab
