// actlab list: the activation table (names, parameters and defaults, what backward reads, formula), as text
// or as the Markdown table in docs/activations.md, which a test keeps in step with the table.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "actlab/nn/activation.h"
#include "cli/cli.h"

namespace actlab::cli {

namespace {

std::string param_text(const kernels::ParamSpec& p) {
  using kernels::ParamType;
  if (p.required) return std::string(p.name) + " (required)";
  std::string v;
  switch (p.type) {
    case ParamType::Bool: v = p.default_value != 0 ? "True" : "False"; break;
    case ParamType::Int: v = std::to_string(static_cast<int64_t>(p.default_value)); break;
    case ParamType::OptionalInt:
      v = std::isnan(p.default_value) ? "None" : std::to_string(static_cast<int64_t>(p.default_value));
      break;
    case ParamType::Choice: {
      std::string_view c = p.choices;
      v = "'" + std::string(c.substr(0, c.find('|'))) + "' (" + std::string(c) + ")";
      break;
    }
    case ParamType::Float: v = nn::format_float(p.default_value); break;
  }
  return std::string(p.name) + "=" + v;
}

const char* saves_text(const kernels::ActivationRow& r) {
  switch (r.saves) {
    case kernels::Saves::Output: return "output";
    case kernels::Saves::Buffer: return kernels::saved_buffer_name(r.id).data();
    default: return "input";
  }
}

const char* inplace_text(const kernels::ActivationRow& r) {
  switch (r.inplace_saves) {
    case kernels::InplaceSaves::Output: return "output";
    case kernels::InplaceSaves::InputCopy: return "copy of input";
    case kernels::InplaceSaves::Buffer: return kernels::saved_buffer_name(r.id).data();
    case kernels::InplaceSaves::NotSupported: return "-";
  }
  return "-";
}

std::string escape_pipes(std::string_view text) {
  std::string s;
  for (char c : text) s += c == '|' ? std::string("\\|") : std::string(1, c);
  return s;
}

}  // namespace

std::string activation_table_markdown() {
  std::string s =
      "| activation | parameters (defaults) | backward reads | in place: backward reads | formula |\n"
      "|---|---|---|---|---|\n";
  for (const auto& row : kernels::kActivationTable) {
    std::string params;
    for (int i = 0; i < row.num_params; ++i) params += (i ? ", " : "") + param_text(row.params[i]);
    s += "| " + std::string(row.name) + " | " + (params.empty() ? "-" : escape_pipes(params)) + " | " + saves_text(row) + " | " +
         inplace_text(row) + " | " + escape_pipes(row.formula) + " |\n";
  }
  return s;
}

void add_list(CLI::App& app, Action& action) {
  auto markdown = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand("list", "list every activation with its parameters and defaults");
  sub->add_flag("--markdown", *markdown, "print the Markdown table of docs/activations.md");
  sub->callback([&action, markdown] {
    action = [markdown]() -> int {
      if (*markdown) {
        std::cout << activation_table_markdown();
        return 0;
      }
      for (const auto& row : kernels::kActivationTable) {
        std::string params;
        for (int i = 0; i < row.num_params; ++i) params += (i ? ", " : "") + param_text(row.params[i]);
        std::printf("%-12s %-60s backward reads the %s\n", std::string(row.name).c_str(), ("(" + params + ")").c_str(),
                    saves_text(row));
      }
      return 0;
    };
  });
}

}  // namespace actlab::cli
