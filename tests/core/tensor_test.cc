#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "actlab/actlab.h"
#include "actlab/core/tensor_impl.h"

using namespace actlab;

TEST(Tensor, CreationAndShape) {
  Tensor t = tensor({{1, 2, 3}, {4, 5, 6}});
  EXPECT_EQ(t.sizes(), (Shape{2, 3}));
  EXPECT_EQ(t.strides(), (Shape{3, 1}));
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.dtype(), kFloat32);
  EXPECT_EQ(t.to_vector(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(zeros({0, 3}).numel(), 0);
  EXPECT_EQ(scalar_tensor(2.5).dim(), 0);
  EXPECT_EQ(scalar_tensor(2.5).item<float>(), 2.5f);
  EXPECT_EQ(full({2}, 7.0).to_vector(), (std::vector<double>{7, 7}));
  EXPECT_EQ(arange(5).to_vector(), (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1, 2, 0.25).to_vector(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(linspace(0, 1, 5).to_vector(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(ones_like(t).sum().item<double>(), 6);
  EXPECT_THROW(tensor({{1, 2}, {3}}), ValueError);
  EXPECT_THROW(zeros({-1}), ValueError);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = arange(12).reshape({3, 4});
  Tensor v = t.transpose(0, 1);
  EXPECT_EQ(v.sizes(), (Shape{4, 3}));
  EXPECT_FALSE(v.is_contiguous());
  EXPECT_EQ(v.contiguous().to_vector()[1], 4);
  Tensor row = t.select(0, 1);
  row.fill_(-1);
  EXPECT_EQ(t.to_vector()[4], -1);
  EXPECT_EQ(t.narrow(1, 1, 2).sizes(), (Shape{3, 2}));
  EXPECT_EQ(t.slice(1, 0, std::nullopt, 2).to_vector(), (std::vector<double>{0, 2, -1, -1, 8, 10}));
  EXPECT_EQ(t.unsqueeze(0).sizes(), (Shape{1, 3, 4}));
  EXPECT_EQ(t.unsqueeze(-1).sizes(), (Shape{3, 4, 1}));
  EXPECT_EQ(t.unsqueeze(0).squeeze().sizes(), (Shape{3, 4}));
  EXPECT_EQ(t.view({-1}).sizes(), (Shape{12}));
  EXPECT_EQ(t.permute({1, 0}).sizes(), (Shape{4, 3}));
  EXPECT_EQ(t.flatten().sizes(), (Shape{12}));
  EXPECT_THROW(v.view({12}), Error);
  EXPECT_EQ(v.reshape({12}).sizes(), (Shape{12}));
  EXPECT_THROW(t.view({5, -1}), Error);
  EXPECT_THROW(t.select(0, 3), IndexError);
  EXPECT_THROW(t.transpose(0, 2), IndexError);
  // Version counter shared by views.
  uint32_t before = t._version();
  row.add_(1.0);
  EXPECT_EQ(t._version(), before + 1);
}

TEST(Tensor, Broadcasting) {
  Tensor a = tensor({{1}, {2}, {3}});
  Tensor b = tensor({10, 20});
  Tensor c = a + b;
  EXPECT_EQ(c.sizes(), (Shape{3, 2}));
  EXPECT_EQ(c.to_vector(), (std::vector<double>{11, 21, 12, 22, 13, 23}));
  EXPECT_THROW(tensor({1, 2, 3}) + tensor({1, 2}), ValueError);
  EXPECT_EQ((a * 2.0).to_vector(), (std::vector<double>{2, 4, 6}));
  EXPECT_EQ((1.0 - a).to_vector(), (std::vector<double>{0, -1, -2}));
  EXPECT_EQ((a / 2.0).to_vector(), (std::vector<double>{0.5, 1, 1.5}));
}

TEST(Tensor, ComparisonsWhereClamp) {
  Tensor a = tensor({-1, 0, 2});
  Tensor m = a > 0.0;
  EXPECT_EQ(m.dtype(), kBool);
  EXPECT_EQ(m.to_vector(), (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(where(m, a, zeros_like(a)).to_vector(), (std::vector<double>{0, 0, 2}));
  EXPECT_EQ(a.clamp(-0.5, 1.0).to_vector(), (std::vector<double>{-0.5, 0, 1}));
  EXPECT_EQ(exp(tensor({0})).item<double>(), 1.0);
  EXPECT_NEAR(log(tensor({2.718281828})).item<double>(), 1.0, 1e-6);
  EXPECT_EQ(sqrt(tensor({4})).item<double>(), 2.0);
  EXPECT_EQ(pow(tensor({3}), 2.0).item<double>(), 9.0);
  EXPECT_TRUE(std::isnan(tensor({NAN}).clamp(0.0, 1.0).item<double>()));
}

TEST(Tensor, Reductions) {
  Tensor t = tensor({{1, 2, 3}, {4, 5, 6}});
  EXPECT_EQ(t.sum().item<double>(), 21);
  EXPECT_EQ(t.sum({0}).to_vector(), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(t.sum({1}, true).sizes(), (Shape{2, 1}));
  EXPECT_EQ(t.mean({1}).to_vector(), (std::vector<double>{2, 5}));
  EXPECT_EQ(t.max().item<double>(), 6);
  EXPECT_EQ(t.min().item<double>(), 1);
  EXPECT_EQ(t.max(1).to_vector(), (std::vector<double>{3, 6}));
  EXPECT_EQ(t.argmax(1).to_vector(), (std::vector<double>{2, 2}));
  EXPECT_EQ(t.argmax().item<int64_t>(), 5);
  EXPECT_EQ(t.argmin(0).to_vector(), (std::vector<double>{0, 0, 0}));
  EXPECT_NEAR(t.var().item<double>(), 3.5, 1e-6);
  EXPECT_NEAR(t.var({1}, false).to_vector()[0], 2.0 / 3.0, 1e-6);
  EXPECT_NEAR(t.std().item<double>(), std::sqrt(3.5), 1e-6);
  EXPECT_TRUE(std::isnan(tensor({1, NAN, 3}).max().item<double>()));
  EXPECT_THROW(t.sum({2}), IndexError);
}

TEST(Tensor, Matmul) {
  Tensor a = tensor({{1, 2}, {3, 4}, {5, 6}});
  Tensor b = tensor({{1, 0, 2}, {0, 1, 3}});
  EXPECT_EQ(matmul(a, b).to_vector(), (std::vector<double>{1, 2, 8, 3, 4, 18, 5, 6, 28}));
  EXPECT_EQ(matmul(a.t(), a).to_vector(), (std::vector<double>{35, 44, 44, 56}));
  EXPECT_EQ(matmul(tensor({1, 2}), tensor({3, 4})).item<double>(), 11);
  EXPECT_EQ(matmul(a, tensor({1, 1})).to_vector(), (std::vector<double>{3, 7, 11}));
  Tensor batch = stack({a, a * 2.0});
  EXPECT_EQ(matmul(batch, b).sizes(), (Shape{2, 3, 3}));
  EXPECT_EQ(matmul(batch, b).select(0, 1).to_vector()[8], 56);
  EXPECT_THROW(matmul(a, a), Error);
  Tensor a64 = a.to(kFloat64);
  EXPECT_EQ(matmul(a64, b.to(kFloat64)).to_vector()[5], 18);
}

TEST(Tensor, RandomIsSeeded) {
  manual_seed(7);
  Tensor a = randn({100});
  manual_seed(7);
  Tensor b = randn({100});
  EXPECT_TRUE(a.equal(b));
  EXPECT_NEAR(a.mean().item<double>(), 0.0, 0.3);
  Tensor u = rand({1000});
  EXPECT_GE(u.min().item<double>(), 0.0);
  EXPECT_LT(u.max().item<double>(), 1.0);
  Tensor r = randint(3, 7, {1000});
  EXPECT_EQ(r.dtype(), kInt64);
  EXPECT_EQ(r.min().item<int64_t>(), 3);
  EXPECT_EQ(r.max().item<int64_t>(), 6);
  Tensor p = randperm(10);
  std::vector<double> v = p.to_vector();
  std::sort(v.begin(), v.end());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(v[i], i);
}

TEST(Tensor, PrintsLikePyTorch) {
  EXPECT_EQ(tensor({-1.0f, 2.0f}).to_string(), "tensor([-1.,  2.])");
  EXPECT_EQ(tensor({0.5f, 1.25f}).to_string(), "tensor([0.5000, 1.2500])");
  EXPECT_EQ(tensor({{1, 2}, {3, 4}}).to_string(), "tensor([[1., 2.],\n        [3., 4.]])");
  EXPECT_EQ(scalar_tensor(3).to_string(), "tensor(3.)");
  EXPECT_EQ(tensor({1, 2}, {.requires_grad = true}).to_string(), "tensor([1., 2.], requires_grad=True)");
  EXPECT_EQ(tensor({1e-5, 1.0}).to_string(), "tensor([1.0000e-05, 1.0000e+00])");
  EXPECT_EQ(tensor({1, 2}, {.dtype = kFloat64}).to_string(), "tensor([1., 2.], dtype=torch.float64)");
  EXPECT_EQ(arange(3, {.dtype = kInt64}).to_string(), "tensor([0, 1, 2])");
  EXPECT_EQ((tensor({1, 2}) > 1.0).to_string(), "tensor([False,  True])");
  EXPECT_EQ(zeros({0}).to_string(), "tensor([])");
  EXPECT_EQ(tensor({NAN, 1.5f}).to_string(), "tensor([   nan, 1.5000])");
}

TEST(Allocator, ReusesFreedBlocks) {
  { Tensor a = empty({1 << 20}); }
  AllocatorStats before = allocator_stats();
  { Tensor b = empty({1 << 20}); }
  AllocatorStats after = allocator_stats();
  EXPECT_EQ(before.system_allocations, after.system_allocations);
}

// The block freed last is handed out first: a loop that allocates and frees one large output keeps reusing
// the same (warm) block instead of cycling through every cached block of its size.
TEST(Allocator, ReusesTheMostRecentlyFreedBlock) {
  const void* second;
  {
    Tensor a = empty({3 << 20});
    Tensor b = empty({3 << 20});
    second = b.raw_data();
  }  // b is destroyed before a: a's block is the most recently freed
  {
    Tensor c = empty({3 << 20});
    Tensor d = empty({3 << 20});
    EXPECT_NE(c.raw_data(), second);  // c takes a's block, freed after b's
    EXPECT_EQ(d.raw_data(), second);
  }
  const void* first;
  {
    Tensor e = empty({3 << 20});
    first = e.raw_data();
  }
  for (int i = 0; i < 3; ++i) {
    Tensor f = empty({3 << 20});
    EXPECT_EQ(f.raw_data(), first);
  }
}

// Allocation failure is an actlab::Error with a clear message, never a crash (issue 6). 2^50 bytes is beyond the
// 47-bit user address space of x86-64 Linux, so the request fails whatever the overcommit setting. (Under
// AddressSanitizer the test needs ASAN_OPTIONS=allocator_may_return_null=1, which scripts/sanitize.sh sets.)
TEST(Allocator, AllocationFailureIsAnError) {
  const AllocatorStats before = allocator_stats();
  try {
    Tensor t = empty({int64_t{1} << 48});
    FAIL() << "allocated 2^50 bytes";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "out of memory: could not allocate 1125899906842624 bytes for a tensor");
  }
  EXPECT_EQ(allocator_stats().allocated_bytes, before.allocated_bytes);
  Tensor small = ones({3});  // the allocator still works
  EXPECT_EQ(small.sum().item<float>(), 3.0f);
}

// A shape whose byte count overflows 64 bits is refused before the allocator's arithmetic can wrap around to a
// small block (2^61 float64 elements are 2^64 bytes, which is 0 in size_t).
TEST(Allocator, ByteCountOverflowIsAnError) {
  try {
    Tensor t = empty({int64_t{1} << 61}, {kFloat64});
    FAIL() << "created a tensor of 2^64 bytes";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "out of memory: a tensor of shape [2305843009213693952] needs more than 2^63 bytes");
  }
  EXPECT_THROW(empty({int64_t{1} << 31, int64_t{1} << 31}), Error);
}
