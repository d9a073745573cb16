// The loss of one batch with the gradients backpropagation gives for it, every
// parameter's and the inputs', outside the training loop: what a gradient check
// (mlpcore.gradcheck) compares with finite differences.
#pragma once

#include <cstddef>

#include "mlpcore/losses.h"
#include "mlpcore/network.h"
#include "mlpcore/trainer.h"

namespace mlpcore {

// Tests only: makes the gradient of one layer's W (or b) wrong on purpose, by a
// factor, so that a test can see the gradient check catch and name it.
struct GradientFault {
  std::size_t layer = 0;
  bool bias = false;   // false: the layer's W, true: its b
  float scale = 1.0f;
};

// The loss of the batch `host` (host memory; the mean the loss is defined as,
// rows weighted by its sample_weight when there is one), with d loss / d
// parameters written into net.grads() (backend memory) and, when input_grad is
// not null, d loss / d x into it (host memory, [rows, input_dim]). The same
// forward, fused loss gradient and backward as a training step, without the
// step; sparse rows are made dense for it as a training batch's are. Allocates
// its workspaces on every call: for checks and full-batch objectives, never
// the fit loop.
double loss_and_gradients(Network& net, LossKind loss, const Dataset& host, float* input_grad,
                          const GradientFault* fault = nullptr);

}  // namespace mlpcore
