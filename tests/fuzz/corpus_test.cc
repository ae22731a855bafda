// Every committed fuzz input — the seeds and the reproducers of crashes the fuzzers found — runs through its fuzz
// target's code (fuzz/*_fuzz.cc, compiled into the suite) on every build: an input that crashed once is a
// regression test from then on. A target aborts on a broken invariant and lets any exception other than
// actlab::Error escape, which fails the test.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace actlab::fuzz {
int npy_target(const uint8_t* data, size_t size);
int idx_target(const uint8_t* data, size_t size);
int checkpoint_target(const uint8_t* data, size_t size);
int png_target(const uint8_t* data, size_t size);
int spec_target(const uint8_t* data, size_t size);
int args_target(const uint8_t* data, size_t size);
}  // namespace actlab::fuzz

namespace {

using Target = int (*)(const uint8_t*, size_t);

// Runs every file of fuzz/corpus/<name>/ through the target; returns how many there were.
size_t replay(const std::string& name, Target target) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ACTLAB_FUZZ_CORPUS_DIR) + "/" + name)) {
    std::ifstream f(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(target(bytes.data(), bytes.size())) << entry.path();
    ++files;
  }
  return files;
}

TEST(FuzzCorpus, Npy) { EXPECT_GE(replay("npy", actlab::fuzz::npy_target), 10u); }
TEST(FuzzCorpus, Idx) { EXPECT_GE(replay("idx", actlab::fuzz::idx_target), 10u); }
TEST(FuzzCorpus, Checkpoint) { EXPECT_GE(replay("checkpoint", actlab::fuzz::checkpoint_target), 6u); }
TEST(FuzzCorpus, Png) { EXPECT_GE(replay("png", actlab::fuzz::png_target), 10u); }
TEST(FuzzCorpus, Spec) { EXPECT_GE(replay("spec", actlab::fuzz::spec_target), 19u); }
TEST(FuzzCorpus, Args) {
  ::testing::internal::CaptureStdout();  // the corpus asks for --help
  ::testing::internal::CaptureStderr();  // and makes parse errors
  const size_t files = replay("args", actlab::fuzz::args_target);
  ::testing::internal::GetCapturedStdout();
  ::testing::internal::GetCapturedStderr();
  EXPECT_GE(files, 13u);
}

}  // namespace
