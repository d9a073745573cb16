// Checks of a sparse X (see csr_args.h). The passes over the arrays run with
// the GIL released and report a problem as a message, raised once the GIL is
// back.
#include "csr_args.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "args.h"
#include "busy.h"

namespace mlpcore::bindings {

namespace {

std::string shape_text(std::size_t rows, std::size_t cols) {
  return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
}

bool is_int32(const py::array& a) { return a.dtype().kind() == 'i' && a.dtype().itemsize() == 4; }

py::array index_array(const std::string& name, const py::handle& obj) {
  py::array a = py::array::ensure(obj);
  if (!a || a.ndim() != 1 || (a.dtype().kind() != 'i' && a.dtype().kind() != 'u')) {
    throw py::type_error(name + ": expected a 1-d integer array, got " +
                         (a ? "dtype " + dtype_str(a) + " of shape " + shape_str(a) : type_name(obj)));
  }
  return a;
}

// The values as float32: float64 is narrowed here, in one native pass (a value
// beyond float32's range becomes inf, which the finiteness check then names).
FloatArray float_values(const std::string& name, const py::handle& obj) {
  py::array a = py::array::ensure(obj);
  if (!a || a.ndim() != 1) throw py::type_error(name + ".data: expected a 1-d array of values");
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
    throw py::type_error(name + ": expected real values (float32 preferred), got dtype " + dtype_str(a));
  }
  if (kind != 'f' || a.dtype().itemsize() != 8) return FloatArray::ensure(a);
  auto src = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  FloatArray out(src.size());
  const double* s = src.data();
  float* d = out.mutable_data();
  const std::size_t n = static_cast<std::size_t>(src.size());
  NativeSection native;
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<float>(s[i]);
  return out;
}

// The offsets and column indices, checked: a message naming the first problem,
// or none, and how many stored entries repeat a column already stored in their row.
struct Structure {
  std::string error;
  std::size_t repeats = 0;
};

template <class I>
Structure check_structure(const std::string& name, std::size_t rows, std::size_t cols, const I* indptr,
                          const I* indices, std::size_t stored) {
  Structure s;
  if (indptr[0] != 0) {
    s.error = name + ".indptr: expected 0 as the first offset, got " + std::to_string(indptr[0]);
    return s;
  }
  for (std::size_t r = 0; r < rows; ++r) {
    if (indptr[r + 1] < indptr[r]) {
      s.error = name + ".indptr: expected non-decreasing offsets, got " + std::to_string(indptr[r + 1]) +
                " after " + std::to_string(indptr[r]) + " at index " + std::to_string(r + 1);
      return s;
    }
  }
  if (static_cast<std::size_t>(indptr[rows]) > stored) {
    s.error = name + ".indptr: its last offset (the number of stored entries) is " + std::to_string(indptr[rows]) +
              ", more than the " + std::to_string(stored) + " entries of " + name + ".indices and " + name + ".data";
    return s;
  }
  std::vector<std::size_t> seen;  // per column, 1 + the last row (out of order) that stored it
  for (std::size_t r = 0; r < rows; ++r) {
    const auto begin = static_cast<std::size_t>(indptr[r]), end = static_cast<std::size_t>(indptr[r + 1]);
    bool increasing = true;
    for (std::size_t k = begin; k < end; ++k) {
      const I c = indices[k];
      if (c < 0 || static_cast<std::size_t>(c) >= cols) {
        s.error = name + ": column index " + std::to_string(c) + " out of range [0, " + std::to_string(cols) +
                  ") in row " + std::to_string(r) + " (stored entry " + std::to_string(k) + ")";
        return s;
      }
      if (k > begin && c <= indices[k - 1]) increasing = false;
    }
    if (increasing) continue;  // sorted without repeats, as scipy usually keeps them
    if (seen.empty()) seen.assign(cols, 0);
    for (std::size_t k = begin; k < end; ++k) {
      const auto c = static_cast<std::size_t>(indices[k]);
      if (seen[c] == r + 1) {
        ++s.repeats;
      } else {
        seen[c] = r + 1;
      }
    }
  }
  return s;
}

// The row and column of the first value in [0, nnz) that is not finite, as a message (empty: all finite).
template <class I>
std::string first_non_finite(const std::string& what, std::size_t rows, const I* indptr, const I* indices,
                             const float* values, std::size_t nnz) {
  for (std::size_t k = 0; k < nnz; ++k) {
    if (std::isfinite(values[k])) continue;
    const auto row = static_cast<std::size_t>(
        std::upper_bound(indptr, indptr + rows + 1, static_cast<I>(k)) - indptr - 1);
    return what + (std::isnan(values[k]) ? std::string("NaN") : std::string("inf")) + " at row " +
           std::to_string(row) + ", column " + std::to_string(indices[k]);
  }
  return std::string();
}

// Each row's repeated columns summed into one entry, in storage order and
// starting from 0 as toarray() does, kept where the column first appears.
template <class I>
void sum_repeats(std::size_t rows, std::size_t cols, const I* indptr, const I* indices, const float* values,
                 I* out_indptr, I* out_indices, float* out_values) {
  std::vector<std::size_t> stamp(cols, 0), slot(cols, 0);
  std::size_t o = 0;
  out_indptr[0] = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    for (auto k = static_cast<std::size_t>(indptr[r]); k < static_cast<std::size_t>(indptr[r + 1]); ++k) {
      const auto c = static_cast<std::size_t>(indices[k]);
      if (stamp[c] != r + 1) {
        stamp[c] = r + 1;
        slot[c] = o;
        out_indices[o] = indices[k];
        out_values[o] = 0.0f;
        ++o;
      }
      out_values[slot[c]] += values[k];
    }
    out_indptr[r + 1] = static_cast<I>(o);
  }
}

template <class I>
void check_typed(const std::string& name, CheckedCsr& c, std::size_t stored) {
  using Array = py::array_t<I, py::array::c_style | py::array::forcecast>;
  Array indptr = Array::ensure(c.indptr), indices = Array::ensure(c.indices);
  c.indptr = indptr;
  c.indices = indices;
  Structure s;
  {
    NativeSection native;
    s = check_structure(name, c.rows, c.cols, indptr.data(), indices.data(), stored);
  }
  if (!s.error.empty()) throw py::value_error(s.error);
  c.nnz = static_cast<std::size_t>(indptr.data()[c.rows]);
  const std::string not_finite = name + ": expected finite values, found ";
  if (!all_finite(c.values.data(), c.nnz)) {
    throw py::value_error(first_non_finite(not_finite, c.rows, indptr.data(), indices.data(), c.values.data(), c.nnz) +
                          " (a value beyond float32's range is inf)");
  }
  if (s.repeats == 0) return;
  const std::size_t unique = c.nnz - s.repeats;
  Array out_indptr(static_cast<py::ssize_t>(c.rows + 1)), out_indices(static_cast<py::ssize_t>(unique));
  FloatArray out_values(static_cast<py::ssize_t>(unique));
  {
    NativeSection native;
    sum_repeats(c.rows, c.cols, indptr.data(), indices.data(), c.values.data(), out_indptr.mutable_data(),
                out_indices.mutable_data(), out_values.mutable_data());
  }
  if (!all_finite(out_values.data(), unique)) {
    throw py::value_error(first_non_finite(name + ": the values stored more than once for one entry sum to ", c.rows,
                                           out_indptr.data(), out_indices.data(), out_values.data(), unique) +
                          " (beyond float32's range)");
  }
  c.indptr = out_indptr;
  c.indices = out_indices;
  c.values = out_values;
  c.nnz = unique;
}

}  // namespace

bool is_sparse(const py::handle& obj) {
  if (py::isinstance<py::array>(obj)) return false;
  const py::object sparse = py::module_::import("sys").attr("modules").attr("get")("scipy.sparse");
  return !sparse.is_none() && sparse.attr("issparse")(obj).cast<bool>();
}

CsrRows CheckedCsr::view() const {
  CsrRows v;
  v.index_type = index_type;
  v.indptr = indptr.data();
  v.indices = indices.data();
  v.values = values.data();
  v.nnz = nnz;
  return v;
}

double CheckedCsr::bytes() const {
  const double width = static_cast<double>(index_bytes(index_type));
  return 4.0 * static_cast<double>(nnz) + width * static_cast<double>(nnz + rows + 1);
}

CheckedCsr check_csr(const char* name_c, const py::handle& obj, std::optional<std::size_t> cols) {
  const std::string name(name_c);
  const std::string format = py::str(obj.attr("format")).cast<std::string>();
  if (format != "csr") {
    throw py::type_error(name + ": expected a CSR matrix (scipy.sparse csr_matrix or csr_array), got a " +
                         type_name(obj) + " in format '" + format + "'; convert it with .tocsr()");
  }
  const py::tuple shape(obj.attr("shape"));
  if (shape.size() != 2) {
    throw py::value_error(name + ": expected a 2-d sparse matrix (samples, features), got shape " +
                          repr_short(shape));
  }
  CheckedCsr c;
  c.rows = static_cast<std::size_t>(int_arg((name + ".shape[0]").c_str(), shape[0], 0, kMaxSize));
  c.cols = static_cast<std::size_t>(int_arg((name + ".shape[1]").c_str(), shape[1], 0, kMaxSize));
  if (c.rows == 0 || c.cols == 0) {
    throw py::value_error(name + ": expected at least one row and one column, got shape " + shape_text(c.rows, c.cols));
  }
  if (cols && c.cols != *cols) {
    throw py::value_error(name + ": expected " + std::to_string(*cols) +
                          " features per row (the model's input_dim), got shape " + shape_text(c.rows, c.cols));
  }
  c.values = float_values(name, obj.attr("data"));
  c.indptr = index_array(name + ".indptr", obj.attr("indptr"));
  c.indices = index_array(name + ".indices", obj.attr("indices"));
  if (static_cast<std::size_t>(c.indptr.shape(0)) != c.rows + 1) {
    throw py::value_error(name + ".indptr: expected " + std::to_string(c.rows + 1) + " offsets (rows + 1) for shape " +
                          shape_text(c.rows, c.cols) + ", got " + std::to_string(c.indptr.shape(0)));
  }
  if (c.indices.shape(0) != c.values.shape(0)) {
    throw py::value_error(name + ": expected as many column indices as values, got " +
                          std::to_string(c.indices.shape(0)) + " indices and " + std::to_string(c.values.shape(0)) +
                          " values");
  }
  const auto stored = static_cast<std::size_t>(c.values.shape(0));
  if (is_int32(c.indptr) && is_int32(c.indices)) {
    c.index_type = IndexType::i32;
    check_typed<std::int32_t>(name, c, stored);
  } else {
    c.index_type = IndexType::i64;
    check_typed<std::int64_t>(name, c, stored);
  }
  return c;
}

}  // namespace mlpcore::bindings
