#include "actlab/core/npy.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace actlab {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

// A fresh directory per test, removed afterwards.
class NpyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("actlab_npy_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

Bytes slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// A hand-made .npy image: magic, version, header length (2 bytes for 1.x, else 4), header, data.
Bytes make_npy(const std::string& header, size_t data_bytes, unsigned major = 1, unsigned minor = 0) {
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), static_cast<unsigned char>(minor)};
  const size_t len_bytes = major == 1 ? 2 : 4;
  for (size_t i = 0; i < len_bytes; ++i) b.push_back(static_cast<unsigned char>((header.size() >> (8 * i)) & 0xff));
  b.insert(b.end(), header.begin(), header.end());
  for (size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<unsigned char>(i * 7));
  return b;
}

NpyArray parse(const Bytes& b, const std::string& name = "x.npy") { return parse_npy(b.data(), b.size(), name); }

// Expects parse to throw NpyError whose message contains every fragment.
void expect_error(const Bytes& b, std::initializer_list<std::string> fragments) {
  try {
    parse(b);
    ADD_FAILURE() << "no error; expected one containing '" << *fragments.begin() << "'";
  } catch (const NpyError& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "message: " << msg << "\nmissing: " << f;
  }
}

std::vector<float> iota_f(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = 0.5f * static_cast<float>(i) - 3.25f;
  return v;
}

// ---- round trips -------------------------------------------------------------------------------------

TEST_F(NpyFiles, RoundTripFloat32Shapes) {
  const std::vector<std::vector<int64_t>> shapes = {{}, {1}, {7}, {4, 6}, {2, 3, 4, 5}, {0}, {3, 0, 2}, {1, 1, 1}};
  for (const auto& shape : shapes) {
    int64_t n = std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
    std::vector<float> v = iota_f(n);
    const std::string p = path("a.npy");
    write_npy(p, NpyDtype::Float32, shape, v.data());
    NpyArray a = read_npy(p);
    EXPECT_EQ(a.dtype, NpyDtype::Float32);
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.numel(), n);
    ASSERT_EQ(a.data.size(), static_cast<size_t>(n) * 4);
    if (n) {
      EXPECT_EQ(std::memcmp(a.data.data(), v.data(), a.data.size()), 0);
    }
    // The in-memory parser agrees with the file reader, and the data starts on a 64-byte boundary.
    Bytes raw = slurp(p);
    EXPECT_EQ((raw.size() - a.data.size()) % 64, 0u);
    NpyArray b = parse(raw);
    EXPECT_EQ(b.shape, shape);
    EXPECT_EQ(b.data, a.data);
  }
}

TEST_F(NpyFiles, RoundTripFloat64WithSpecialValues) {
  std::vector<double> v = {0.0, -0.0, 1.0, -1e-310, std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::max()};
  const std::string p = path("d.npy");
  write_npy(p, NpyDtype::Float64, {2, 4}, v.data());
  NpyArray a = read_npy(p);
  EXPECT_EQ(a.dtype, NpyDtype::Float64);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 4}));
  ASSERT_EQ(a.data.size(), v.size() * 8);
  EXPECT_EQ(std::memcmp(a.data.data(), v.data(), a.data.size()), 0);  // bit-exact, -0.0 and NaN included
}

TEST_F(NpyFiles, RoundTripZeroDAndEmpty64) {
  double x = 2.5;
  write_npy(path("s.npy"), NpyDtype::Float64, {}, &x);
  NpyArray s = read_npy(path("s.npy"));
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.numel(), 1);
  ASSERT_EQ(s.data.size(), 8u);
  double back;
  std::memcpy(&back, s.data.data(), 8);
  EXPECT_EQ(back, 2.5);

  write_npy(path("e.npy"), NpyDtype::Float64, {0, 5}, nullptr);  // no data needed for an empty array
  NpyArray e = read_npy(path("e.npy"));
  EXPECT_EQ(e.shape, (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.data.empty());
}

TEST_F(NpyFiles, WriteNpyArrayOverloadAndOverwrite) {
  NpyArray a;
  a.dtype = NpyDtype::Float32;
  a.shape = {3};
  std::vector<float> v = {1, 2, 3};
  a.data.resize(12);
  std::memcpy(a.data.data(), v.data(), 12);
  write_npy(path("o.npy"), a);
  a.shape = {1, 3};
  write_npy(path("o.npy"), a);  // replaces the existing file
  EXPECT_EQ(read_npy(path("o.npy")).shape, (std::vector<int64_t>{1, 3}));
  a.shape = {4};
  EXPECT_THROW(write_npy(path("o.npy"), a), NpyError);  // 12 bytes cannot hold 4 floats
  EXPECT_EQ(read_npy(path("o.npy")).shape, (std::vector<int64_t>{1, 3}));
  // No temporary files are left behind.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(NpyHeader, HeaderMatchesNumpyLayout) {
  float x = 1.0f;
  Bytes b = encode_npy(NpyDtype::Float32, {1}, &x);
  const std::string header(b.begin() + 10, b.end() - 4);
  EXPECT_EQ(b[6], 1);
  EXPECT_EQ(b[7], 0);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 0), 0u);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ((b.size() - 4) % 64, 0u);
}

// ---- accepted variations -----------------------------------------------------------------------------

TEST(NpyParse, AcceptsVersions2And3) {
  for (unsigned major : {2u, 3u}) {
    NpyArray a = parse(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n", 48, major));
    EXPECT_EQ(a.dtype, NpyDtype::Float64);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.data.size(), 48u);
  }
}

TEST(NpyParse, AcceptsAnyKeyOrderAndWhitespace) {
  NpyArray a = parse(make_npy("{'shape':(3,),'fortran_order':False,'descr':'<f4'}", 12));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
  NpyArray b = parse(make_npy("  {\n \"fortran_order\" : False ,\t'descr' : \"<f4\",\n 'shape' : ( 2 , 2 , ) , }   \n", 16));
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2, 2}));
  NpyArray c = parse(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4));
  EXPECT_TRUE(c.shape.empty());
  EXPECT_EQ(c.numel(), 1);
  NpyArray d = parse(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,5), }", 80));
  EXPECT_EQ(d.shape, (std::vector<int64_t>{4, 5}));
  NpyArray e = parse(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 0));
  EXPECT_EQ(e.numel(), 0);
  NpyArray f = parse(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }", 8));  // Python 2
  EXPECT_EQ(f.shape, (std::vector<int64_t>{2, 1}));
}

TEST(NpyParse, ValuesAreLittleEndian) {
  Bytes b = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 0);
  for (unsigned char c : {0x00, 0x00, 0xc0, 0x3f}) b.push_back(c);  // 1.5f
  NpyArray a = parse(b);
  float v;
  std::memcpy(&v, a.data.data(), 4);
  EXPECT_EQ(v, 1.5f);
}

// ---- rejected files ----------------------------------------------------------------------------------

const std::string kGood = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";

TEST(NpyParse, RejectsBadMagic) {
  Bytes b = make_npy(kGood, 8);
  b[1] = 'n';
  expect_error(b, {"not a .npy file", "x.npy", "magic"});
  expect_error(Bytes{'P', 'K'}, {"not a .npy file", "x.npy"});
  expect_error(Bytes{}, {"not a .npy file", "x.npy"});
}

TEST(NpyParse, RejectsUnsupportedVersion) {
  expect_error(make_npy(kGood, 8, 4, 0), {"unsupported .npy format version 4.0", "x.npy", "1.0, 2.0 and 3.0"});
  expect_error(make_npy(kGood, 8, 1, 1), {"version 1.1"});
  expect_error(make_npy(kGood, 8, 0, 0), {"version 0.0"});
}

TEST(NpyParse, RejectsTruncatedPrelude) {
  Bytes b = make_npy(kGood, 8);
  expect_error(Bytes(b.begin(), b.begin() + 7), {"x.npy", "truncated"});
  expect_error(Bytes(b.begin(), b.begin() + 9), {"x.npy", "truncated", "header length"});
}

TEST(NpyParse, RejectsHeaderLengthBeyondFile) {
  Bytes b = make_npy(kGood, 0);
  b[8] = 0xff;
  b[9] = 0x7f;
  expect_error(b, {"x.npy", "header length 32767", "beyond the end of the file"});
  Bytes v2 = make_npy(kGood, 0, 2);
  v2[11] = 0xff;  // 4-byte length near 4 GiB
  expect_error(v2, {"x.npy", "beyond the end of the file"});
}

TEST(NpyParse, RejectsMalformedDict) {
  const std::vector<std::string> bad = {
      "",                                                                  // empty header
      "['descr', '<f4']",                                                  // not a dict
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ",          // unterminated
      "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}",            // missing comma
      "{descr: '<f4', 'fortran_order': False, 'shape': (2,)}",             // unquoted key
      "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}",           // lowercase bool
      "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",            // list shape
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",            // int, not tuple
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}",         // float dim
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",   // extra key
      "{'descr': '<f4', 'fortran_order': False}",                          // missing shape
      "{'fortran_order': False, 'shape': (2,)}",                           // missing descr
      "{'descr': '<f4', 'shape': (2,)}",                                   // missing fortran_order
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",  // duplicate
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk",      // text after '}'
      "{'descr': '<f4\n', 'fortran_order': False, 'shape': (2,)}",         // broken string
  };
  for (const auto& h : bad) {
    SCOPED_TRACE(h);
    expect_error(make_npy(h, 8), {"malformed .npy header in x.npy"});
  }
  Bytes nul = make_npy(kGood, 8);
  nul[20] = 0;
  expect_error(nul, {"malformed .npy header in x.npy", "NUL"});
}

TEST(NpyParse, RejectsUnsupportedDtypes) {
  auto with = [](const std::string& descr, size_t data = 8) {
    return make_npy("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2,), }", data);
  };
  expect_error(with("<i4"), {"unsupported dtype '<i4' in x.npy: only little-endian float32 ('<f4') and float64 "
                             "('<f8') are supported"});
  expect_error(with("<f2", 4), {"unsupported dtype '<f2' in x.npy", "'<f4'", "'<f8'"});
  expect_error(with("|b1", 2), {"unsupported dtype '|b1' in x.npy"});
  expect_error(with("|f4"), {"unsupported dtype '|f4' in x.npy", "'|'", "not valid for floats"});
  expect_error(with(">f4"), {"unsupported dtype '>f4' in x.npy", "big-endian"});
  expect_error(with(">f8", 16), {"unsupported dtype '>f8' in x.npy", "big-endian"});
  expect_error(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8),
               {"unsupported dtype", "x.npy", "structured"});
}

TEST(NpyParse, RejectsFortranOrder) {
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24),
               {"Fortran-order", "x.npy", "'fortran_order': False"});
}

TEST(NpyParse, RejectsNegativeAndOverflowingDimensions) {
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 0),
               {"negative dimension -1", "x.npy"});
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2), }", 0),
               {"negative dimension -2", "x.npy"});
  // A single dimension beyond int64.
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0),
               {"does not fit in a 64-bit integer", "x.npy"});
  // Each dimension fits, the product does not: caught before any allocation.
  expect_error(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0),
               {"more elements than can be stored", "x.npy"});
  expect_error(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807,), }", 0),
               {"more elements than can be stored", "x.npy"});
  // Large but representable: rejected by comparing with the bytes present, without allocating 8 TB.
  expect_error(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", 8),
               {"truncated data in x.npy", "8000000000000 bytes", "only 8"});
  // A zero dimension makes the product zero even next to a huge one.
  NpyArray z = parse(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 9223372036854775807), }", 0));
  EXPECT_EQ(z.numel(), 0);
}

TEST(NpyParse, RejectsTruncatedData) {
  expect_error(make_npy(kGood, 7), {"truncated data in x.npy", "(2,)", "float32", "needs 8 bytes", "only 7"});
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 0), {"truncated data"});
}

TEST(NpyParse, RejectsTrailingBytes) {
  expect_error(make_npy(kGood, 9), {"trailing bytes", "x.npy", "needs 8 bytes", "9 follow"});
}

TEST_F(NpyFiles, ReadErrorsNameTheFile) {
  try {
    read_npy(path("missing.npy"));
    ADD_FAILURE();
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.npy"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
  try {
    read_npy(dir_.string());
    ADD_FAILURE();
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos) << e.what();
  }
  // The file reader reports the same problems as the parser, naming the path.
  spit(path("t.npy"), make_npy(kGood, 5));
  try {
    read_npy(path("t.npy"));
    ADD_FAILURE();
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated data in " + path("t.npy")), std::string::npos) << e.what();
  }
  spit(path("h.npy"), make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000, 4000000000), }", 0));
  EXPECT_THROW(read_npy(path("h.npy")), NpyError);
  spit(path("short.npy"), Bytes{0x93, 'N', 'U'});
  EXPECT_THROW(read_npy(path("short.npy")), NpyError);
  // A large header (version 2.0) read in pieces.
  std::string big = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }" + std::string(70000, ' ') + "\n";
  spit(path("big.npy"), make_npy(big, 12, 2));
  EXPECT_EQ(read_npy(path("big.npy")).shape, (std::vector<int64_t>{3}));
}

// ---- atomic writes -----------------------------------------------------------------------------------

size_t count_entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST_F(NpyFiles, FailedWriteLeavesExistingFileUntouched) {
  const std::string p = path("keep.npy");
  std::vector<float> old = {1, 2, 3};
  write_npy(p, NpyDtype::Float32, {3}, old.data());
  const Bytes before = slurp(p);

  // The data does not fit under a file-size limit: write() fails with EFBIG (works as root too).
  std::vector<float> big(100000, 4.0f);
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct sigaction ign {}, old_sa {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ign, &old_sa), 0);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  bool threw = false;
  std::string msg;
  try {
    write_npy(p, NpyDtype::Float32, {100000}, big.data());
  } catch (const NpyError& e) {
    threw = true;
    msg = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &old_sa, nullptr);
  EXPECT_TRUE(threw);
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  EXPECT_EQ(slurp(p), before);
  EXPECT_EQ(count_entries(dir_), 1u) << "the temporary file must be removed";

  // An invalid shape fails before anything is written.
  EXPECT_THROW(write_npy(p, NpyDtype::Float32, {-3}, old.data()), NpyError);
  EXPECT_EQ(slurp(p), before);
  EXPECT_EQ(count_entries(dir_), 1u);
}

TEST_F(NpyFiles, FailedWriteWhenPathIsADirectory) {
  const std::string p = path("sub");
  fs::create_directory(p);
  std::ofstream(p + "/inside.txt") << "still here";
  float x = 1.0f;
  try {
    write_npy(p, NpyDtype::Float32, {1}, &x);
    ADD_FAILURE() << "writing over a directory must fail";
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(p));
  EXPECT_TRUE(fs::exists(p + "/inside.txt"));
  EXPECT_EQ(count_entries(dir_), 1u) << "the temporary file must be removed";
}

TEST_F(NpyFiles, FailedWriteInMissingOrUnwritableDirectory) {
  float x = 1.0f;
  EXPECT_THROW(write_npy(path("no/such/dir/a.npy"), NpyDtype::Float32, {1}, &x), NpyError);
  // A "directory" that is a regular file cannot be written into, whatever the privileges (root ignores
  // permission bits, so this stands in for a read-only directory).
  const std::string not_dir = path("plain_file");
  write_npy(not_dir, NpyDtype::Float32, {1}, &x);
  const Bytes before = slurp(not_dir);
  EXPECT_THROW(write_npy(not_dir + "/a.npy", NpyDtype::Float32, {1}, &x), NpyError);
  EXPECT_EQ(slurp(not_dir), before);
}

}  // namespace
}  // namespace actlab
