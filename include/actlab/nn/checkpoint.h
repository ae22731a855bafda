// Checkpoints: named tensors plus string metadata in one binary file, as torch.save(state_dict) /
// torch.load, and helpers that save / restore an nn::Module through its state_dict() / load_state_dict().
//
// File format (little-endian), version 1:
//   "ACTLABCK"                    8-byte magic
//   u32 version (= 1)            u32 flags (= 0)
//   u64 total file length in bytes
//   u64 entry count, then per entry:
//     u32 name length, name bytes (UTF-8), u8 dtype (0 float32, 1 float64, 2 int64, 3 bool), u8 rank (<= 16),
//     rank x i64 sizes, u64 data bytes, the data (row-major)
//   u64 metadata count, then per item: u32 key length, key, u32 value length, value
//   u32 CRC-32 (zlib's) of every byte before it
// The file is written to a temporary name and renamed (write_file_atomic): a failed save leaves any
// existing file untouched.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "actlab/core/tensor.h"
#include "actlab/nn/module.h"

namespace actlab::nn {

inline constexpr uint32_t kCheckpointVersion = 1;
// metadata["kind"] of a training checkpoint (model under "model.", optimizer under "optim.", the run's position
// in the metadata; written by lab::train with save_every). load_module reads the model part of one.
inline constexpr const char* kTrainingCheckpointKind = "actlab-train";

// What a checkpoint file holds: an ordered state dict (names unique; tensors of any shape, 0-d included, and
// dtype float32/float64/int64/bool) and string metadata.
struct Checkpoint {
  StateDict tensors;
  std::map<std::string, std::string> metadata;

  // The tensor called `name`, or an undefined Tensor.
  Tensor find(const std::string& name) const;
};

// Writes the tensors and metadata to `path` atomically. Throws ValueError on a duplicate or empty name, an
// undefined tensor or more than 16 dimensions; IOError when the file cannot be written (the existing file, if
// any, is left as it was).
void save(const StateDict& tensors, const std::string& path, const std::map<std::string, std::string>& metadata = {});
inline void save(const Checkpoint& ckpt, const std::string& path) { save(ckpt.tensors, path, ckpt.metadata); }

// Reads a checkpoint. Every size is checked against the file length before anything is allocated. Throws
// IOError: "not an actlab checkpoint: PATH ..." (wrong magic), "unsupported checkpoint version N in PATH ...",
// "checkpoint PATH is truncated: ...", "checkpoint PATH is damaged: checksum mismatch", or another
// "checkpoint PATH is damaged: ..." for a malformed field.
Checkpoint load(const std::string& path);

// The bytes save() writes, and the reading load() does on a file's bytes (`name` stands for the path in errors).
std::vector<unsigned char> encode_checkpoint(const StateDict& tensors,
                                             const std::map<std::string, std::string>& metadata = {});
Checkpoint decode_checkpoint(const std::vector<unsigned char>& bytes, const std::string& name);

// save(module.state_dict(), path, metadata): parameters then buffers, by dotted name.
void save_module(const Module& module, const std::string& path, const std::map<std::string, std::string>& metadata = {});
// load(path), then module.load_state_dict(tensors, strict) (of the "model." entries for a training checkpoint): values are copied in place under NoGradGuard, and
// nothing is copied unless everything matches. A missing/unexpected key or a size mismatch throws
// actlab::Error with PyTorch's message ("Error(s) in loading state_dict for Sequential:\n\tsize mismatch for
// 0.weight: copying a param with shape torch.Size([16, 1, 3, 3]) from checkpoint, the shape in current model is
// torch.Size([8, 1, 3, 3])."). Returns the checkpoint's metadata.
std::map<std::string, std::string> load_module(Module& module, const std::string& path, bool strict = true);

}  // namespace actlab::nn
