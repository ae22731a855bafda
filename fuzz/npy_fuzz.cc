// libFuzzer target: the .npy reader, from memory (parse_npy) and from a file (read_npy, which reads the
// header first and checks every size against the file's length before allocating). Both must agree.
#include "actlab/core/npy.h"
#include "fuzz_util.h"

ACTLAB_FUZZ_TARGET(npy) {
  using namespace actlab;
  bool parsed = false;
  NpyArray a;
  fuzz::expect_only_actlab_errors([&] {
    a = parse_npy(data, size, "fuzz.npy");
    parsed = true;
  });
  if (parsed) {
    uint64_t numel = 1;
    for (int64_t d : a.shape) {
      ACTLAB_FUZZ_CHECK(d >= 0);
      numel *= static_cast<uint64_t>(d);
    }
    ACTLAB_FUZZ_CHECK(numel * a.itemsize() == a.data.size());
    ACTLAB_FUZZ_CHECK(a.data.size() <= size);
  }
  fuzz::MemFile file(data, size);
  bool read = false;
  NpyArray b;
  fuzz::expect_only_actlab_errors([&] {
    b = read_npy(file.path());
    read = true;
  });
  ACTLAB_FUZZ_CHECK(read == parsed);
  if (read) ACTLAB_FUZZ_CHECK(a.shape == b.shape && a.dtype == b.dtype && a.data == b.data);
  return 0;
}
