// The whole public API in one include.
#pragma once

#include "actlab/autograd/grad_mode.h"
#include "actlab/autograd/node.h"
#include "actlab/core/dtype.h"
#include "actlab/core/error.h"
#include "actlab/core/tensor.h"
#include "actlab/ops/ops.h"
