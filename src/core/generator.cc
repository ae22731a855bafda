// The seeded generator: xoshiro256** seeded through splitmix64; uniform floats from the top bits,
// normals by Box-Muller (with the spare value kept, so a stream is reproducible from the seed).
#include <cmath>
#include <mutex>
#include <numbers>

#include "actlab/core/tensor_impl.h"
#include "core/dispatch.h"

namespace actlab {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
std::mutex& generator_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

void Generator::manual_seed(uint64_t seed) {
  seed_ = seed;
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
  has_spare_ = false;
}

uint64_t Generator::next_u64() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
float Generator::next_float() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }

double Generator::next_normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 1.0 - next_double();  // (0, 1]
  double u2 = next_double();
  double r = std::sqrt(-2.0 * std::log(u1));
  double a = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(a);
  has_spare_ = true;
  return r * std::cos(a);
}

Generator::State Generator::get_state() const { return {{s_[0], s_[1], s_[2], s_[3]}, seed_, has_spare_, spare_}; }
void Generator::set_state(const State& s) {
  for (int i = 0; i < 4; ++i) s_[i] = s.s[i];
  seed_ = s.seed;
  has_spare_ = s.has_spare;
  spare_ = s.spare;
}

Generator& default_generator() {
  static Generator g;
  return g;
}
void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(generator_mutex());
  default_generator().manual_seed(seed);
}

namespace {
template <class Fill>
Tensor random_tensor(Shape shape, TensorOptions o, Generator* g, const char* op, Fill fill) {
  if (!is_floating(o.dtype)) throw Error(detail::concat(op, " is only implemented for floating point dtypes"));
  Tensor t = make_tensor(std::move(shape), o.dtype);
  std::unique_lock<std::mutex> lock(generator_mutex(), std::defer_lock);
  if (g == nullptr) {
    g = &default_generator();
    lock.lock();
  }
  dispatch_floating(o.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(fill(*g, tag));
  });
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor rand(Shape shape, TensorOptions o, Generator* g) {
  return random_tensor(std::move(shape), o, g, "rand", [](Generator& gen, auto tag) -> double {
    if constexpr (std::is_same_v<decltype(tag), float>) return gen.next_float();
    return gen.next_double();
  });
}

Tensor randn(Shape shape, TensorOptions o, Generator* g) {
  return random_tensor(std::move(shape), o, g, "randn", [](Generator& gen, auto) { return gen.next_normal(); });
}

Tensor randint(int64_t low, int64_t high, Shape shape, Generator* g) {
  if (high <= low)
    throw ValueError(detail::concat("random_ expects 'from' to be less than 'to', but got from=", low,
                                    " >= to=", high));
  Tensor t = make_tensor(std::move(shape), Dtype::Int64);
  std::unique_lock<std::mutex> lock(generator_mutex(), std::defer_lock);
  if (g == nullptr) {
    g = &default_generator();
    lock.lock();
  }
  auto range = static_cast<uint64_t>(high - low);
  int64_t* p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = low + static_cast<int64_t>(g->next_u64() % range);
  return t;
}

Tensor randperm(int64_t n, Generator* g) {
  if (n < 0) throw ValueError(detail::concat("n must be non-negative, got", n));
  Tensor t = make_tensor({n}, Dtype::Int64);
  int64_t* p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  std::unique_lock<std::mutex> lock(generator_mutex(), std::defer_lock);
  if (g == nullptr) {
    g = &default_generator();
    lock.lock();
  }
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
    auto j = static_cast<int64_t>(g->next_u64() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return t;
}

}  // namespace actlab
