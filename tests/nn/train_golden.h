// Test helpers for the golden data of tools/gen_golden_train.py (tests/golden/train/*.json).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "actlab/actlab.h"

namespace actlab::testing {

using json = nlohmann::json;

inline json load_train_golden(const std::string& name) {
  std::string path = std::string(ACTLAB_GOLDEN_DIR) + "/train/" + name + ".json";
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  return json::parse(f);
}

// A tensor from {"shape", "dtype", "data"}; floating data becomes `float_dtype`.
inline Tensor tensor_from_json(const json& j, Dtype float_dtype = Dtype::Float32) {
  Shape shape = j.at("shape").get<Shape>();
  std::vector<double> data = j.at("data").get<std::vector<double>>();
  const std::string dt = j.at("dtype").get<std::string>();
  Dtype d = dt == "int64" ? Dtype::Int64 : float_dtype;
  return from_data(data, shape, {d});
}

// |a - e| <= atol + rtol |e| element-wise, with the same shape.
inline void expect_near_json(const Tensor& a, const json& expected, double rtol, double atol, const std::string& what) {
  ASSERT_TRUE(a.defined()) << what << ": undefined";
  Shape shape = expected.at("shape").get<Shape>();
  ASSERT_EQ(a.sizes(), shape) << what;
  std::vector<double> got = a.to_vector();
  std::vector<double> exp = expected.at("data").get<std::vector<double>>();
  int failures = 0;
  for (size_t i = 0; i < got.size() && failures < 5; ++i) {
    bool ok = (std::isnan(got[i]) && std::isnan(exp[i])) || std::fabs(got[i] - exp[i]) <= atol + rtol * std::fabs(exp[i]);
    if (!ok) {
      ++failures;
      ADD_FAILURE() << what << " element " << i << ": got " << got[i] << ", expected " << exp[i];
    }
  }
}

}  // namespace actlab::testing
