// The process groups: one process, and (built with ACTLAB_HAVE_MPI) MPI's COMM_WORLD. The only file that
// includes <mpi.h>; a build without MPI compiles this file differently and nothing else.
#include "actlab/dist/process_group.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "actlab/core/error.h"

#ifndef ACTLAB_HAVE_MPI
#define ACTLAB_HAVE_MPI 0
#endif
#if ACTLAB_HAVE_MPI
// The C API only: without these, <mpi.h> in C++ pulls in the deprecated C++ bindings (libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace actlab::dist {

namespace {

class SingleWork : public Work {
 public:
  bool test() override { return true; }
  void wait() override {}
};

class SingleProcess : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  void broadcast(void*, size_t, int) override {}
  void allreduce_sum(double*, size_t) override {}
  std::unique_ptr<Work> iallreduce_sum(float*, size_t) override { return std::make_unique<SingleWork>(); }
  void allgather(const void* data, size_t bytes, void* out) override {
    if (bytes) std::memmove(out, data, bytes);
  }
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

#if ACTLAB_HAVE_MPI

// MPI calls that fail are fatal (MPI_ERRORS_ARE_FATAL, MPI's default): MPI itself reports and aborts the job.
class MpiWork : public Work {
 public:
  MpiWork() = default;
  ~MpiWork() override {
    if (req_ != MPI_REQUEST_NULL) MPI_Wait(&req_, MPI_STATUS_IGNORE);
  }
  bool test() override {
    if (req_ == MPI_REQUEST_NULL) return true;
    int done = 0;
    MPI_Test(&req_, &done, MPI_STATUS_IGNORE);
    return done != 0;
  }
  void wait() override {
    if (req_ != MPI_REQUEST_NULL) MPI_Wait(&req_, MPI_STATUS_IGNORE);
  }
  MPI_Request req_ = MPI_REQUEST_NULL;
};

class MpiWorld : public ProcessGroup {
 public:
  MpiWorld() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owns_ = true;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_dup(MPI_COMM_WORLD, &grad_comm_);  // gradient buckets: nonblocking, beside the blocking ones
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiWorld() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Comm_free(&grad_comm_);
    MPI_Comm_free(&comm_);
    if (owns_) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  void broadcast(void* data, size_t bytes, int root) override {
    auto* p = static_cast<char*>(data);
    for (size_t done = 0; done < bytes;) {  // MPI counts are int
      int n = static_cast<int>(std::min<size_t>(bytes - done, size_t{1} << 30));
      MPI_Bcast(p + done, n, MPI_BYTE, root, comm_);
      done += static_cast<size_t>(n);
    }
  }
  void allreduce_sum(double* data, size_t n) override {
    MPI_Allreduce(MPI_IN_PLACE, data, checked_count(n), MPI_DOUBLE, MPI_SUM, comm_);
  }
  std::unique_ptr<Work> iallreduce_sum(float* data, size_t n) override {
    auto w = std::make_unique<MpiWork>();
    MPI_Iallreduce(MPI_IN_PLACE, data, checked_count(n), MPI_FLOAT, MPI_SUM, grad_comm_, &w->req_);
    return w;
  }
  void allgather(const void* data, size_t bytes, void* out) override {
    MPI_Allgather(data, checked_count(bytes), MPI_BYTE, out, checked_count(bytes), MPI_BYTE, comm_);
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  static int checked_count(size_t n) {
    if (n > (size_t{1} << 31) - 1) throw ValueError(detail::concat("a collective of ", n, " elements is too large for MPI"));
    return static_cast<int>(n);
  }
  MPI_Comm comm_ = MPI_COMM_NULL, grad_comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool owns_ = false;
};

#endif

}  // namespace

bool built_with_mpi() { return ACTLAB_HAVE_MPI != 0; }

int launcher_world_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* v = std::getenv(var);
    if (v && *v) return std::max(1, std::atoi(v));
  }
  return std::getenv("PMIX_RANK") ? 2 : 1;  // PMIx without a size: treat as a multi-process launch
}

std::shared_ptr<ProcessGroup> single_process() { return std::make_shared<SingleProcess>(); }

std::shared_ptr<ProcessGroup> world() {
  // Built once and kept until exit; MPI is finalized by the group's destructor at static destruction.
  static std::once_flag once;
  static std::shared_ptr<ProcessGroup> group;
  std::call_once(once, [] {
    const int launched = launcher_world_size();
#if ACTLAB_HAVE_MPI
    // Outside a launcher, no MPI at all: a plain run never pays for MPI_Init (or needs a working MPI setup).
    group = launched > 1 ? std::shared_ptr<ProcessGroup>(std::make_shared<MpiWorld>()) : single_process();
#else
    if (launched > 1)
      throw Error(detail::concat("this actlab was built without MPI (ACTLAB_MPI=OFF) but was started as one of ",
                                 launched, " processes (mpirun); rebuild with MPI (Debian's libopenmpi-dev) or run "
                                 "it without mpirun"));
    group = single_process();
#endif
  });
  if (!group) throw Error("dist::world(): the process group could not be created");
  return group;
}

}  // namespace actlab::dist
