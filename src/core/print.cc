// Printing like PyTorch's repr (torch/_tensor_str.py): one format for all elements, chosen from the
// finite nonzero values (integer mode "2.", fixed "{:.4f}", or scientific "{:.4e}"), right-aligned,
// rows wrapped at 80 columns, summarized with "..." beyond 1000 elements.
#include <cmath>
#include <cstdio>
#include <ostream>

#include "actlab/autograd/node.h"
#include "actlab/core/tensor_impl.h"
#include "core/dispatch.h"

namespace actlab {
namespace {

constexpr int kPrecision = 4;
constexpr int kLineWidth = 80;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

struct Formatter {
  enum Mode { Int, Fixed, Sci, Integer, Boolean } mode = Fixed;
  int width = 1;

  std::string format(double v) const {
    char buf[64];
    if (mode == Boolean) return v != 0 ? "True" : "False";
    if (mode == Integer) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
      return buf;
    }
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (mode == Int) {
      std::snprintf(buf, sizeof buf, "%.0f.", v);
    } else if (mode == Fixed) {
      std::snprintf(buf, sizeof buf, "%.*f", kPrecision, v);
    } else {
      std::snprintf(buf, sizeof buf, "%.*e", kPrecision, v);
    }
    return buf;
  }
  std::string pad(double v) const {
    std::string s = format(v);
    if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<size_t>(width) - s.size(), ' ');
    return s;
  }
};

Formatter make_formatter(const std::vector<double>& vals, Dtype dtype) {
  Formatter f;
  if (dtype == Dtype::Bool) {
    f.mode = Formatter::Boolean;
  } else if (dtype == Dtype::Int64) {
    f.mode = Formatter::Integer;
  } else {
    bool any = false, int_mode = true;
    double mn = INFINITY, mx = 0;
    for (double v : vals) {
      if (!std::isfinite(v) || v == 0) continue;
      any = true;
      mn = std::min(mn, std::fabs(v));
      mx = std::max(mx, std::fabs(v));
      if (std::ceil(v) != v) int_mode = false;
    }
    if (!any) {
      f.mode = Formatter::Int;
    } else if (int_mode) {
      f.mode = (mx / mn > 1000.0 || mx > 1e8) ? Formatter::Sci : Formatter::Int;
    } else {
      f.mode = (mx / mn > 1000.0 || mx > 1e8 || mn < 1e-4) ? Formatter::Sci : Formatter::Fixed;
    }
  }
  for (double v : vals) f.width = std::max(f.width, static_cast<int>(f.format(v).size()));
  return f;
}

// Values that will be printed (the summarized corners when the tensor is large).
void collect(const Tensor& t, bool summarize, std::vector<double>& out) {
  if (t.dim() == 0) {
    out.push_back(t.item<double>());
    return;
  }
  int64_t n = t.sizes()[0];
  auto visit = [&](int64_t i) {
    if (t.dim() == 1)
      out.push_back(t.select(0, i).item<double>());
    else
      collect(t.select(0, i), summarize, out);
  };
  if (summarize && n > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) visit(i);
    for (int64_t i = n - kEdgeItems; i < n; ++i) visit(i);
  } else {
    for (int64_t i = 0; i < n; ++i) visit(i);
  }
}

std::string render(const Tensor& t, const Formatter& f, int indent, bool summarize) {
  if (t.dim() == 0) return f.format(t.item<double>());
  int64_t n = t.sizes()[0];
  bool cut = summarize && n > 2 * kEdgeItems;
  std::vector<int64_t> idx;
  if (cut) {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    idx.push_back(-1);
    for (int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  }
  std::string s = "[";
  if (t.dim() == 1) {
    int per_line = std::max(1, (kLineWidth - indent) / (f.width + 2));
    int on_line = 0;
    for (size_t k = 0; k < idx.size(); ++k) {
      if (k) {
        s += ",";
        if (on_line >= per_line) {
          s += "\n" + std::string(static_cast<size_t>(indent) + 1, ' ');
          on_line = 0;
        } else {
          s += " ";
        }
      }
      s += idx[k] < 0 ? std::string("...") : f.pad(t.select(0, idx[k]).item<double>());
      ++on_line;
    }
  } else {
    std::string sep = "," + std::string(static_cast<size_t>(t.dim() - 1), '\n') +
                      std::string(static_cast<size_t>(indent) + 1, ' ');
    for (size_t k = 0; k < idx.size(); ++k) {
      if (k) s += sep;
      s += idx[k] < 0 ? std::string("...") : render(t.select(0, idx[k]), f, indent + 1, summarize);
    }
  }
  return s + "]";
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor(undefined)";
  Tensor t = detach();
  bool summarize = t.numel() > kThreshold;
  std::string prefix = "tensor(";
  std::string body;
  std::vector<std::string> suffixes;
  if (t.numel() == 0) {
    body = "[]";
    if (t.dim() != 1) suffixes.push_back("size=(" + [&] {
      std::string r;
      for (int64_t i = 0; i < t.dim(); ++i) r += (i ? ", " : "") + std::to_string(t.sizes()[i]);
      return r + (t.dim() == 1 ? "," : "");
    }() + ")");
  } else {
    std::vector<double> vals;
    collect(t, summarize, vals);
    Formatter f = make_formatter(vals, t.dtype());
    body = render(t, f, static_cast<int>(prefix.size()), summarize);
  }
  if (dtype() == Dtype::Float64) suffixes.push_back("dtype=torch.float64");
  if (auto fn = grad_fn())
    suffixes.push_back("grad_fn=<" + fn->name() + ">");
  else if (requires_grad())
    suffixes.push_back("requires_grad=True");
  std::string s = prefix + body;
  for (const auto& x : suffixes) s += ", " + x;
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace actlab
