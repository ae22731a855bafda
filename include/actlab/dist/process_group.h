// The processes of a data-parallel run and the collectives training needs, behind one small interface (as
// torch.distributed's ProcessGroup). Built with MPI (CMake ACTLAB_MPI, Open MPI from Debian), world() is MPI's
// COMM_WORLD when the program runs under mpirun; otherwise, and in a build without MPI, it is a group of one
// process whose collectives do nothing. Only src/dist/process_group.cc includes <mpi.h>.
//
// Collectives must be called in the same order on every rank. Only the thread that first called world() may
// call them (MPI_THREAD_FUNNELED).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace actlab::dist {

// A started nonblocking collective.
class Work {
 public:
  virtual ~Work() = default;
  // Lets the collective advance without blocking (MPI progresses only inside MPI calls); true once complete.
  virtual bool test() = 0;
  // Blocks until it is complete.
  virtual void wait() = 0;
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "mpi" or "single"

  // Copies `bytes` bytes at `data` from rank `root` to every rank.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  // Element-wise sum over ranks, in place, blocking.
  virtual void allreduce_sum(double* data, size_t n) = 0;
  // Element-wise sum over ranks, in place; `data` must stay alive and untouched until the Work completes.
  // Gradient buckets use these; they run on a communicator of their own, so blocking collectives may be
  // called while they are in flight.
  virtual std::unique_ptr<Work> iallreduce_sum(float* data, size_t n) = 0;
  // Every rank's `bytes` bytes, concatenated in rank order into `out` (size() * bytes).
  virtual void allgather(const void* data, size_t bytes, void* out) = 0;
  // Ends every process of the run (after an error on one rank, the others would wait forever).
  [[noreturn]] virtual void abort(int code) = 0;
};

// The group of this process: MPI's world under mpirun in an MPI build, else a single process. Initializes MPI on
// first use and finalizes it at exit. In a build without MPI, running under a launcher that starts several
// processes (mpirun sets OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK) is an error that says so, instead of N
// processes each training alone and writing the same files.
std::shared_ptr<ProcessGroup> world();

// How many processes the launcher started, read from its environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
// PMIX_SIZE); 1 outside a launcher. Needs no MPI: commands that are not data-parallel use it to refuse mpirun.
int launcher_world_size();

// A group of one process (what world() is without mpirun).
std::shared_ptr<ProcessGroup> single_process();

// Whether this build links MPI.
bool built_with_mpi();

}  // namespace actlab::dist
