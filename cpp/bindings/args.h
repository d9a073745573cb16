// Argument conversion and checks for the bindings: every value a user passes is
// taken as a Python object and checked here, so that a wrong one raises an
// exception naming the argument, what was expected and what came.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "csr_args.h"
#include "mlpcore/backend.h"
#include "mlpcore/losses.h"
#include "mlpcore/network.h"
#include "mlpcore/trainer.h"

namespace mlpcore::bindings {

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using LabelArray = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

// The largest layer width, batch or GEMM dimension accepted: far beyond any
// real one, so that larger is a mistake.
constexpr long long kMaxSize = 1LL << 40;

// ---------------------------------------------------------------- for messages
// Built with std::string and std::to_string, not iostreams: a module whose
// toolchain links its own libstdc++ statically can crash in an ostream's locale
// facets when the process has loaded another libstdc++.

std::string shape_str(const py::array& a);
std::string dtype_str(const py::array& a);
std::string type_name(const py::handle& obj);
std::string repr_short(const py::handle& obj);

// ---------------------------------------------------------------- scalars and lists

// An integer (Python int or numpy integer, never bool) in [lo, hi].
long long int_arg(const char* name, const py::handle& obj, long long lo, long long hi);
// A seed or epoch counter: any integer in [0, 2^64).
std::uint64_t u64_arg(const char* name, const py::handle& obj);
// A finite real number (Python or numpy int/float, never bool) that float32 holds.
float float_arg(const char* name, const py::handle& obj);
// A real number (Python or numpy int/float, never bool) as the double it is
// (NaN and inf pass: the range is the caller's rule).
double real_arg(const char* name, const py::handle& obj);
bool bool_arg(const char* name, const py::handle& obj);
std::string str_arg(const char* name, const py::handle& obj);
// A list or tuple, as a new list.
py::list list_arg(const char* name, const py::handle& obj);

Activation parse_activation(const py::handle& obj);
LossKind parse_loss(const py::handle& obj);
Init parse_init(const py::handle& obj);
// "cpu" or "cuda" (the names mlpcore.devices resolves), as the backend this build has for it.
const Backend& parse_device(const py::handle& obj);
// predict's transform: "none" (the raw outputs) or a loss whose output transform applies.
std::optional<LossKind> parse_transform(const py::handle& obj);

// ---------------------------------------------------------------- memory
// Sizes are checked against the device's memory before anything is allocated:
// an absurd layer or batch fails at once instead of swapping or being killed.

[[noreturn]] void throw_memory_error(const std::string& message);
void require_memory(const Backend& backend, const char* name, double bytes, const std::string& what);

// ---------------------------------------------------------------- arrays

// Converts `obj` to a C-contiguous float32 array (a copy only when it is not one
// already), after checking it is a real-valued array of the expected rank (-1: any).
FloatArray as_floats(const char* name, const py::handle& obj, int ndim);
// A 1-d float array of exactly n values (a flat parameter, state or gradient buffer).
FloatArray flat_arg(const char* name, const py::handle& obj, std::size_t n);

// True when no value in [p, p + n) is NaN or infinite (one vectorised pass).
bool all_finite(const float* p, std::size_t n);
void require_finite(const char* name, const FloatArray& a);

// ---------------------------------------------------------------- data

// The targets of a loss, checked against the outputs: int labels (cross-entropy)
// or a float array shaped like the outputs.
// (A default-constructed array_t is an empty array, not a null handle, hence optional.)
struct CheckedTargets {
  std::optional<LabelArray> labels;
  std::optional<FloatArray> dense;
  Targets view() const {
    Targets t;
    if (labels) t.labels = labels->data();
    if (dense) t.dense = dense->data();
    return t;
  }
};

CheckedTargets check_targets(const char* name, const py::handle& obj, LossKind loss, std::size_t rows,
                             std::size_t cols);
std::optional<FloatArray> check_weights(const py::object& obj, std::size_t rows);

// The arguments of a loss on one batch, checked.
struct CheckedLossArgs {
  LossKind loss;
  FloatArray out;
  std::size_t rows, cols;
  CheckedTargets targets;
  std::optional<FloatArray> weights;
};

CheckedLossArgs check_loss_args(const py::handle& loss_name, const py::handle& out_obj, const py::handle& t_obj,
                                const py::object& w_obj);

// Rows for the network's input: at least one, input_dim features, finite.
FloatArray check_inputs(const Network& net, const py::handle& obj, const char* name);

// The arrays of one dataset, checked, kept alive while C++ reads them: X as
// dense rows (x), or as a CSR matrix (x_csr; x is then empty).
struct CheckedData {
  FloatArray x;
  std::optional<CheckedCsr> x_csr;
  CheckedTargets targets;
  std::optional<FloatArray> weights;
  std::size_t rows() const { return x_csr ? x_csr->rows : static_cast<std::size_t>(x.shape(0)); }
  // Bytes of X (what a device copy needs).
  double x_bytes() const { return x_csr ? x_csr->bytes() : 4.0 * static_cast<double>(x.size()); }
  Dataset view() const {
    Dataset d;
    if (x_csr) {
      d.x_csr = x_csr->view();
    } else {
      d.x = x.data();
    }
    d.rows = rows();
    d.targets = targets.view();
    d.sample_weight = weights ? weights->data() : nullptr;
    return d;
  }
};

// X dense rows (check_inputs) or a sparse matrix (csr_args.h), y and sample_weight.
CheckedData check_data(const Network& net, LossKind loss, const py::handle& x, const py::handle& y,
                       const py::object& w);

}  // namespace mlpcore::bindings
