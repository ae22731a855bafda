// Looking inside a network through forward hooks, as the seed does: for every activation layer, its outputs
// on a fixed batch, the fraction of units active (output > 0), and the fraction of units never active over
// the batch ("dead"). Used by `actlab train --logdir` and by the lab's experiments.
#pragma once

#include <string>
#include <vector>

#include "actlab/core/tensor.h"
#include "actlab/nn/sequential.h"

namespace actlab::lab {

struct ActivationProbe {
  std::string name;        // e.g. "2.ReLU" (position in the Sequential, then the type)
  Tensor output;           // the layer's output on the batch
  double active_fraction;  // mean over the batch of (output > 0)
  double dead_fraction;    // units (all but the batch dim) with output <= 0 for every sample
};

// Runs `batch` through `model` in eval mode without gradients, with a forward hook on every activation
// layer (removed afterwards), and returns one probe per activation layer in order.
std::vector<ActivationProbe> probe_activations(nn::Sequential& model, const Tensor& batch);

}  // namespace actlab::lab
