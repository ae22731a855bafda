// Every row of docs/bad-inputs.md, run: one error line, the documented exit status, no crash, nothing written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>

#include "actlab/actlab.h"
#include "actlab/tensorboard/png.h"
#include "cli/cli_test_util.h"
#include "lab/synthetic_data.h"
#include "tensorboard/png_test_util.h"

using namespace actlab;
using actlab::testing::run_cli;
using actlab::testing::TempDir;

namespace {

struct Row {
  std::string input, command, excerpt;
  int exit_code;
};

// The table rows of docs/bad-inputs.md: | input | `command` | `excerpt` | exit |
std::vector<Row> read_rows() {
  std::ifstream f(std::string(ACTLAB_GOLDEN_DIR) + "/../../docs/bad-inputs.md");
  std::vector<Row> rows;
  std::regex row(R"(^\| (.+?) \| `(.+)` \| `(.+)` \| (\d) \|$)");
  for (std::string line; std::getline(f, line);) {
    std::smatch m;
    if (std::regex_match(line, m, row)) rows.push_back({m[1], m[2], m[3], std::stoi(m[4])});
  }
  return rows;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A version 1.0 .npy file: magic, header length, the header dict padded with spaces to 64 bytes, then data.
std::string npy(const std::string& descr, bool fortran, const std::string& shape, const std::string& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

// Makes every input the table names; returns name -> path.
std::map<std::string, std::string> make_inputs(const TempDir& dir) {
  std::map<std::string, std::string> in;
  auto path = [&](const std::string& name) { return in[name] = dir / name; };
  std::string six_floats(24, '\0');
  write_bytes(path("npy_ok"), npy("<f4", false, "(2, 3)", six_floats));
  write_bytes(path("npy_3"), npy("<f4", false, "(3,)", std::string(12, '\0')));
  write_bytes(path("npy_bad_magic"), "NOTNUMPY" + std::string(120, '\0'));
  write_bytes(path("npy_truncated"), npy("<f4", false, "(2, 3)", six_floats.substr(0, 16)));
  write_bytes(path("npy_huge"), npy("<f4", false, "(1000000000000000,)", six_floats));
  write_bytes(path("npy_int16"), npy("<i2", false, "(6,)", std::string(12, '\0')));
  write_bytes(path("npy_fortran"), npy("<f4", true, "(2, 3)", six_floats));
  write_bytes(path("empty"), "");

  // MNIST-format data sets: a good one, and copies with one file damaged.
  actlab::testing::write_textures(path("idx_ok"), 64, 32);
  for (const char* name : {"idx_bad_magic", "idx_truncated", "idx_overflow", "idx_label_mismatch"})
    std::filesystem::copy(in["idx_ok"], path(name));
  std::string images = read_bytes(in["idx_ok"] + "/train-images-idx3-ubyte");
  std::string bad = images;
  bad[0] = '\x12';
  write_bytes(in["idx_bad_magic"] + "/train-images-idx3-ubyte", bad);
  write_bytes(in["idx_truncated"] + "/train-images-idx3-ubyte", images.substr(0, images.size() / 2));
  actlab::testing::write_idx(in["idx_overflow"] + "/train-images-idx3-ubyte", {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
                             std::vector<uint8_t>(64, 0));
  actlab::testing::write_idx(in["idx_label_mismatch"] + "/train-labels-idx1-ubyte", {63}, std::vector<uint8_t>(63, 1));

  // Checkpoints.
  nn::save({{"w", randn({4, 4})}}, path("ckpt_model"));
  std::string ckpt = read_bytes(in["ckpt_model"]);
  write_bytes(path("ckpt_truncated"), ckpt.substr(0, ckpt.size() - 20));
  std::string flipped = ckpt;
  flipped[flipped.size() - 30] ^= 0x40;
  write_bytes(path("ckpt_flipped"), flipped);
  std::mt19937 rng(7);
  std::string random(300, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  write_bytes(path("ckpt_garbage"), random);

  // PNGs.
  write_bytes(path("png_garbage"), "\x89PNG\r\n\x1a\n" + random);
  std::vector<uint8_t> pixels(16 * 16, 200);
  tensorboard::write_png(dir / "good.png", pixels, 16, 16, 1);
  std::string png = read_bytes(dir / "good.png");
  write_bytes(path("png_truncated"), png.substr(0, png.size() / 2));
  write_bytes(path("png_huge"), actlab::testing::png_claiming_size(png, 30000, 30000));
  return in;
}

}  // namespace

TEST(CliBadInputs, EveryDocumentedRowFailsCleanly) {
  std::vector<Row> rows = read_rows();
  ASSERT_GE(rows.size(), 30u) << "docs/bad-inputs.md has lost rows";
  TempDir dir;
  std::map<std::string, std::string> inputs = make_inputs(dir);
  inputs["dir"] = dir.path.string();
  inputs["out"] = dir / "out";
  std::filesystem::create_directories(inputs["out"]);
  for (const Row& row : rows) {
    std::string cmd = row.command;
    for (const auto& [name, p] : inputs) {
      std::string key = "{" + name + "}";
      for (size_t at; (at = cmd.find(key)) != std::string::npos;) cmd.replace(at, key.size(), p);
    }
    ASSERT_EQ(cmd.find('{'), std::string::npos) << row.input << ": unknown input in " << row.command;
    auto r = run_cli(cmd);
    EXPECT_EQ(r.code, row.exit_code) << row.input << ": " << r.out;
    EXPECT_EQ(r.out.rfind("actlab: error: ", 0), 0u) << row.input << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << row.input << ": not one line: " << r.out;
    EXPECT_NE(r.out.find(row.excerpt), std::string::npos) << row.input << ": expected '" << row.excerpt << "' in " << r.out;
    EXPECT_TRUE(std::filesystem::is_empty(inputs["out"])) << row.input << ": left a file in the output directory";
    for (const auto& e : std::filesystem::directory_iterator(inputs["out"])) std::filesystem::remove_all(e.path());
  }
}
