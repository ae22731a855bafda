// Every torch.nn activation as a module, driven by the activation table, and the spec parser that reads
// PyTorch's constructor syntax: "ReLU", "LeakyReLU(0.2)", "GELU(approximate='tanh')", "Softmax(dim=1)".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "actlab/kernels/activation_table.h"
#include "actlab/nn/module.h"

namespace actlab::nn {

struct ActivationSpec {
  kernels::ActId id = kernels::ActId::ReLU;
  kernels::ParamValues values{};  // in the row's parameter order, defaults filled in

  const kernels::ActivationRow& row() const { return kernels::activation_row(id); }
  // The value of a parameter by name (throws if the row has no such parameter).
  double get(std::string_view name) const;
  bool inplace() const;
  // Canonical text: the name, plus the parameters that differ from their defaults.
  std::string to_string() const;
};

// Parses a spec; one clear ValueError for an unknown name, keyword or bad value, saying what is valid.
ActivationSpec parse_activation_spec(std::string_view text);
// The spec with every parameter at its default (Threshold's required ones must be given).
ActivationSpec default_spec(kernels::ActId id);
// Names of every activation, in table order, comma-separated.
std::string activation_names();

// A table-driven activation module; the named classes below are thin constructors over it.
class Activation : public Module {
 public:
  explicit Activation(ActivationSpec spec);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return std::string(spec_.row().name); }
  std::string extra_repr() const override;
  const ActivationSpec& spec() const { return spec_; }
  // PReLU's learnable slopes (undefined for the other rows).
  Tensor weight() const { return weight_; }

 protected:
  ActivationSpec spec_;
  Tensor weight_;
};

std::shared_ptr<Activation> make_activation(const ActivationSpec& spec);
std::shared_ptr<Activation> make_activation(std::string_view spec);

// ---- the named modules, with PyTorch's parameter names and defaults ------------------------------------
struct LeakyReLUOptions { double negative_slope = 0.01; bool inplace = false; };
struct ELUOptions { double alpha = 1.0; bool inplace = false; };
struct CELUOptions { double alpha = 1.0; bool inplace = false; };
struct GELUOptions { std::string approximate = "none"; };
struct SoftplusOptions { double beta = 1.0; double threshold = 20.0; };
struct ShrinkOptions { double lambd = 0.5; };
struct HardtanhOptions { double min_val = -1.0; double max_val = 1.0; bool inplace = false; };
struct ThresholdOptions { double threshold; double value; bool inplace = false; };
struct SoftmaxOptions { std::optional<int64_t> dim; };
struct PReLUOptions { int64_t num_parameters = 1; double init = 0.25; };
struct RReLUOptions { double lower = 1.0 / 8.0; double upper = 1.0 / 3.0; bool inplace = false; };
struct GLUOptions { int64_t dim = -1; };

class ReLU : public Activation { public: explicit ReLU(bool inplace = false); };
class LeakyReLU : public Activation {
 public:
  explicit LeakyReLU(LeakyReLUOptions o = {});
  explicit LeakyReLU(double negative_slope, bool inplace = false) : LeakyReLU(LeakyReLUOptions{negative_slope, inplace}) {}
};
class Sigmoid : public Activation { public: Sigmoid(); };
class Tanh : public Activation { public: Tanh(); };
class ELU : public Activation { public: explicit ELU(ELUOptions o = {}); };
class SELU : public Activation { public: explicit SELU(bool inplace = false); };
class CELU : public Activation { public: explicit CELU(CELUOptions o = {}); };
class GELU : public Activation { public: explicit GELU(GELUOptions o = {}); };
class SiLU : public Activation { public: explicit SiLU(bool inplace = false); };
class Mish : public Activation { public: explicit Mish(bool inplace = false); };
class Softplus : public Activation { public: explicit Softplus(SoftplusOptions o = {}); };
class Softsign : public Activation { public: Softsign(); };
class Softshrink : public Activation { public: explicit Softshrink(ShrinkOptions o = {}); };
class Hardshrink : public Activation { public: explicit Hardshrink(ShrinkOptions o = {}); };
class Tanhshrink : public Activation { public: Tanhshrink(); };
class Hardtanh : public Activation { public: explicit Hardtanh(HardtanhOptions o = {}); };
class ReLU6 : public Activation { public: explicit ReLU6(bool inplace = false); };
class Hardsigmoid : public Activation { public: explicit Hardsigmoid(bool inplace = false); };
class Hardswish : public Activation { public: explicit Hardswish(bool inplace = false); };
class LogSigmoid : public Activation { public: LogSigmoid(); };
class Threshold : public Activation { public: explicit Threshold(ThresholdOptions o); };
class Softmax : public Activation { public: explicit Softmax(SoftmaxOptions o = {}); };
class LogSoftmax : public Activation { public: explicit LogSoftmax(SoftmaxOptions o = {}); };
class Softmin : public Activation { public: explicit Softmin(SoftmaxOptions o = {}); };
class Softmax2d : public Activation { public: Softmax2d(); };
class PReLU : public Activation { public: explicit PReLU(PReLUOptions o = {}); };
class RReLU : public Activation { public: explicit RReLU(RReLUOptions o = {}); };
class GLU : public Activation { public: explicit GLU(GLUOptions o = {}); };

}  // namespace actlab::nn
