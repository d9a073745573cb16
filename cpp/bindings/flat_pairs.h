// Flat buffers as Python sees them: parameters, gradients and optimizer state
// are flat buffers laid out as the network's parameters; Python sees them as a
// list of (W, b) pairs (so files do not depend on the flat buffer's padding) or,
// for cheap snapshots within one process, as the flat buffer itself.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <utility>
#include <vector>

#include "args.h"
#include "mlpcore/backend.h"
#include "mlpcore/network.h"

namespace mlpcore::bindings {

namespace py = pybind11;

// The (W, b) pairs of a buffer laid out as `net`'s parameters, as new arrays
// filled straight from the buffer's memory (no copy of the whole buffer).
py::list pairs_from_flat(const Network& net, const DeviceBuffer<float>& flat);

// How two errors are worded: set_params names W or b alone and says how many
// items a pair had; optimizer state shows both shapes at once.
enum class PairWording { per_array, per_pair };

// (W, b) pairs from Python, checked against `net`'s layers (count, shapes,
// finite values) and kept alive until copied into a flat buffer by
// flat_from_pairs. `name` is the argument ("weights", "state['exp_avg']").
std::vector<std::pair<FloatArray, FloatArray>> check_pairs(const Network& net, const char* name,
                                                           const py::handle& obj, PairWording wording);

// Copies checked pairs into a buffer laid out as `net`'s parameters (padding untouched).
void flat_from_pairs(const Network& net, const std::vector<std::pair<FloatArray, FloatArray>>& pairs,
                     DeviceBuffer<float>& flat);

// The first n values of a flat buffer, as a new 1-d array.
FloatArray flat_array(const DeviceBuffer<float>& flat, std::size_t n);

}  // namespace mlpcore::bindings
