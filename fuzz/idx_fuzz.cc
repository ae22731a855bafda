// libFuzzer target: the IDX reader (plain and gzip-compressed; gzip is chosen by the 1f 8b magic, as for real
// files). A plain file that reads must encode back to the same bytes.
#include <cstring>

#include "actlab/data/idx.h"
#include "fuzz_util.h"

ACTLAB_FUZZ_TARGET(idx) {
  using namespace actlab;
  fuzz::MemFile file(data, size);
  fuzz::expect_only_actlab_errors([&] {
    data::IdxArray a = data::read_idx(file.path());
    int64_t total = 1;
    for (int64_t d : a.dims) total *= d;
    ACTLAB_FUZZ_CHECK(!a.dims.empty() && a.dims.size() <= 4);
    ACTLAB_FUZZ_CHECK(static_cast<size_t>(total) == a.data.size());
    const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gz) {
      std::vector<uint8_t> again = data::encode_idx(a);
      ACTLAB_FUZZ_CHECK(again.size() == size && std::memcmp(again.data(), data, size) == 0);
    }
  });
  return 0;
}
