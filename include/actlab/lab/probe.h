// Looking inside a network through forward hooks, as the seed does: for every activation layer, its outputs
// on a batch, the fraction of units active (output > 0: the seed's "30-50% of ReLU's neurons fire"), and the
// fraction of units that are dead (pass no gradient for any sample of the batch: the activation's derivative
// at the unit's pre-activation is zero every time). Dead is gradient-based on purpose: a LeakyReLU unit whose
// inputs are all negative never outputs a positive value, but it still learns; a ReLU unit there does not.
// Used by `actlab train --logdir` and by `actlab compare`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actlab/core/tensor.h"
#include "actlab/nn/activation.h"
#include "actlab/nn/sequential.h"

namespace actlab::lab {

struct ActivationProbe {
  std::string name;        // e.g. "2.ReLU" (position in the Sequential, then the type)
  Tensor output;           // the layer's output on the batch
  double active_fraction;  // mean over the batch of (output > 0)
  double dead_fraction;    // units (all but the batch dim) whose derivative is 0 for every sample; NaN for
                           // activations that are not elementwise (Softmax family, GLU)
};

// Runs `batch` through `model` in eval mode without gradients, with a forward hook on every activation
// layer (removed afterwards), and returns one probe per activation layer in order.
std::vector<ActivationProbe> probe_activations(nn::Sequential& model, const Tensor& batch);

// 1.0 where the activation passes a gradient (its derivative at `input` is nonzero), 0.0 where it does
// not, as float32 of the input's shape; undefined for activations that are not elementwise.
Tensor gradient_passes(const nn::Activation& act, const Tensor& input, const Tensor& output);

// Per activation layer over many batches: the mean active fraction and the fraction of units dead for every
// image (never active in the gradient sense). For the test set, pass all of it; it runs in batches.
struct LayerSparsity {
  std::string name;
  int64_t units = 0;             // units per sample (channels x positions for a convolution)
  double active_fraction = 0;    // mean of (output > 0) over images and units
  double dead_fraction = 0;      // units whose derivative was 0 for every image; NaN if not elementwise
};
std::vector<LayerSparsity> measure_sparsity(nn::Sequential& model, const Tensor& images, int64_t batch_size = 500);

}  // namespace actlab::lab
