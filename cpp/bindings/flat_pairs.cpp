#include "flat_pairs.h"

#include <string>

#include "busy.h"

namespace mlpcore::bindings {

// The (W, b) pairs of a buffer laid out as `net`'s parameters, as new arrays
// filled straight from the buffer's memory (no copy of the whole buffer).
py::list pairs_from_flat(const Network& net, const DeviceBuffer<float>& flat) {
  py::list out;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    FloatArray w({net.fan_in(l), net.fan_out(l)});
    FloatArray b(std::vector<py::ssize_t>{static_cast<py::ssize_t>(net.fan_out(l))});
    float *pw = w.mutable_data(), *pb = b.mutable_data();
    const std::size_t nw = w.size(), nb = b.size();
    {
      NativeSection native;
      flat.download_range(net.weight_offset(l), pw, nw);
      flat.download_range(net.bias_offset(l), pb, nb);
    }
    out.append(py::make_tuple(w, b));
  }
  return out;
}

std::vector<std::pair<FloatArray, FloatArray>> check_pairs(const Network& net, const char* name,
                                                           const py::handle& obj, PairWording wording) {
  const py::list layers = list_arg(name, obj);
  if (layers.size() != net.num_layers()) {
    throw py::value_error(std::string(name) + ": expected " + std::to_string(net.num_layers()) +
                          " (W, b) pairs, got " + std::to_string(layers.size()));
  }
  std::vector<std::pair<FloatArray, FloatArray>> checked;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    const std::string where = std::string(name) + "[" + std::to_string(l) + "]";
    if (!py::isinstance<py::list>(layers[l]) && !py::isinstance<py::tuple>(layers[l])) {
      throw py::type_error(where + ": expected a (W, b) pair, got " + type_name(layers[l]));
    }
    const py::list pair = py::reinterpret_steal<py::list>(PySequence_List(layers[l].ptr()));
    if (pair.size() != 2) {
      throw py::value_error(where + ": expected a (W, b) pair" +
                            (wording == PairWording::per_array ? ", got " + std::to_string(pair.size()) + " items"
                                                               : std::string()));
    }
    FloatArray w = as_floats((where + "[0]").c_str(), pair[0], 2), b = as_floats((where + "[1]").c_str(), pair[1], 1);
    const bool w_ok = static_cast<std::size_t>(w.shape(0)) == net.fan_in(l) &&
                      static_cast<std::size_t>(w.shape(1)) == net.fan_out(l);
    const bool b_ok = static_cast<std::size_t>(b.shape(0)) == net.fan_out(l);
    const std::string w_shape = "(" + std::to_string(net.fan_in(l)) + ", " + std::to_string(net.fan_out(l)) + ")";
    const std::string b_shape = "(" + std::to_string(net.fan_out(l)) + ",)";
    if (wording == PairWording::per_array) {
      if (!w_ok) throw py::value_error(where + "[0]: expected W of shape " + w_shape + ", got " + shape_str(w));
      if (!b_ok) throw py::value_error(where + "[1]: expected b of shape " + b_shape + ", got " + shape_str(b));
    } else if (!w_ok || !b_ok) {
      throw py::value_error(where + ": expected shapes " + w_shape + " and " + b_shape + ", got " + shape_str(w) +
                            " and " + shape_str(b));
    }
    require_finite((where + "[0]").c_str(), w);
    require_finite((where + "[1]").c_str(), b);
    checked.emplace_back(w, b);
  }
  return checked;
}

// Copies checked pairs into a buffer laid out as `net`'s parameters (padding untouched).
void flat_from_pairs(const Network& net, const std::vector<std::pair<FloatArray, FloatArray>>& pairs,
                     DeviceBuffer<float>& flat) {
  NativeSection native;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    flat.upload_range(net.weight_offset(l), pairs[l].first.data(), pairs[l].first.size());
    flat.upload_range(net.bias_offset(l), pairs[l].second.data(), pairs[l].second.size());
  }
}

// The first n values of a flat buffer, as a new 1-d array.
FloatArray flat_array(const DeviceBuffer<float>& flat, std::size_t n) {
  FloatArray out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(n)});
  float* host = out.mutable_data();
  NativeSection native;
  flat.download(host, n);
  return out;
}

}  // namespace mlpcore::bindings
