// In-place ops on views under autograd, as PyTorch records them: the base gets CopySlices, the view
// AsStridedBackward0 of the base, and other views of a changed base get their history again when used.
// Expected values: tools/view_inplace_reference.py (PyTorch 1.13.1).
#include <gtest/gtest.h>

#include "actlab/actlab.h"
#include "actlab/nn/functional.h"
#include "test_util.h"

namespace actlab {
namespace {

namespace F = nn::functional;
using V = std::vector<double>;

Tensor x23() { return tensor({{-1, 2, -3}, {4, -5, 6}}, {.requires_grad = true}); }

TEST(ViewInplace, ReluOnARowRecordsCopySlices) {
  Tensor x = x23();
  Tensor y = x * 2.0;
  Tensor v = y[0];
  F::relu_(v);
  EXPECT_EQ(y.grad_fn()->name(), "CopySlices");
  EXPECT_EQ(v.grad_fn()->name(), "AsStridedBackward0");
  EXPECT_EQ(y.to_vector(), (V{0, 4, 0, 8, -10, 12}));
  Tensor w = y[1];  // made after the in-place op
  (y.sum() + (v * 3.0).sum() + (w * 5.0).sum()).backward();
  EXPECT_EQ(x.grad().to_vector(), (V{0, 8, 0, 12, 12, 12}));
}

TEST(ViewInplace, ViewsMadeBeforeAnInplaceOpOnTheBaseFollowIt) {
  Tensor x = x23();
  Tensor y = x * 2.0;
  Tensor a = y.select(1, 1);
  Tensor b = y[0];
  y.mul_(3.0);
  EXPECT_EQ(a.grad_fn()->name(), "AsStridedBackward0");
  EXPECT_EQ(b.grad_fn()->name(), "AsStridedBackward0");
  ((a.sum() * 2.0) + b.sum()).backward();
  EXPECT_EQ(x.grad().to_vector(), (V{6, 18, 6, 0, 12, 0}));
}

TEST(ViewInplace, CopyIntoAViewOfATensorWithoutGrad) {
  Tensor z = zeros({3});
  Tensor s = tensor({1, 2}, {.requires_grad = true});
  Tensor part = z.slice(0, 1, std::nullopt);
  part.copy_(s);
  ASSERT_TRUE(z.grad_fn() != nullptr);
  EXPECT_EQ(z.grad_fn()->name(), "CopySlices");
  EXPECT_TRUE(z.requires_grad());
  EXPECT_FALSE(z.is_leaf());
  (z * tensor({1, 10, 100})).sum().backward();
  EXPECT_EQ(s.grad().to_vector(), (V{10, 100}));
}

TEST(ViewInplace, ViewOfALeafThatLaterRequiresGradIsRefused) {
  Tensor q = zeros({3});
  Tensor r = q.slice(0, 0, 2);
  q.requires_grad_(true);
  try {
    r.mul_(2.0);
    FAIL() << "expected PyTorch's error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "a view of a leaf Variable that requires grad is being used in an in-place operation.");
  }
}

TEST(ViewInplace, ARowOfATransposedView) {
  Tensor x = x23();
  Tensor y = x * 2.0;
  Tensor t = y.t();
  t[0].mul_(10.0);  // column 0 of y
  EXPECT_EQ(y.grad_fn()->name(), "CopySlices");
  EXPECT_EQ(t.grad_fn()->name(), "AsStridedBackward0");
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector(), (V{20, 2, 2, 20, 2, 2}));
}

TEST(ViewInplace, AnOverlappingViewMadeBeforeSeesTheChange) {
  Tensor x = x23();
  Tensor y = x * 1.0;
  Tensor a = y[0];
  Tensor b = y[0].slice(0, 1, std::nullopt);
  a.mul_(3.0);
  EXPECT_EQ(b.grad_fn()->name(), "AsStridedBackward0");
  b.sum().backward();
  EXPECT_EQ(x.grad().to_vector(), (V{0, 3, 3, 0, 0, 0}));
}

TEST(ViewInplace, AViewOfAViewOfATensorWithoutGrad) {
  Tensor s = tensor({1, 2}, {.requires_grad = true});
  Tensor m = zeros({2, 3});
  Tensor mv = m[1].slice(0, 1, std::nullopt);
  mv.add_(s);
  EXPECT_EQ(m.grad_fn()->name(), "CopySlices");
  EXPECT_EQ(mv.grad_fn()->name(), "AsStridedBackward0");
  (m * m).sum().backward();
  EXPECT_EQ(s.grad().to_vector(), (V{2, 4}));
}

TEST(ViewInplace, SavedViewModifiedAgainGivesTheVersionError) {
  // relu_ on a view saves the view; changing the base again breaks that backward, as in PyTorch.
  Tensor x = x23();
  Tensor y = x * 2.0;
  Tensor row = y[0];
  F::relu_(row);
  y.mul_(2.0);
  EXPECT_THROW(y.sum().backward(), Error);
}

TEST(ViewInplace, Gradcheck) {
  // Rows, columns and a strided slice changed in place, mixing ops that save the view, the other input, or nothing.
  testing::expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor y = in[0] * 1.0;
        y[1].mul_(in[1]);
        y.slice(1, 0, 4, 2).add_(in[0].slice(1, 1, 4, 2) * 0.5);
        Tensor col = y.select(1, 2);
        F::relu_(col);  // last: it saves the view, and any later in-place op on y would change it
        Tensor e = exp(y);  // a consumer of the final base
        return e + y[2] * 3.0;  // and of a view made after the in-place ops
      },
      {testing::leaf64({3, 4}, 21), testing::leaf64({4}, 22)});
}

}  // namespace
}  // namespace actlab
