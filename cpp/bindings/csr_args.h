// A sparse X from Python: a scipy.sparse matrix in CSR layout, read through
// its attributes (format, shape, data, indices, indptr) without importing
// scipy, and checked so that the kernels may trust it (mlpcore/csr.h). Other
// sparse formats are converted to CSR by the Python layer before they get here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <optional>

#include "mlpcore/csr.h"

namespace mlpcore::bindings {

namespace py = pybind11;

// True for a scipy.sparse matrix or array (scipy.sparse.issparse, asked only
// when scipy.sparse is loaded: it is whenever obj is one).
bool is_sparse(const py::handle& obj);

// A CSR matrix, checked, with the arrays the core reads kept alive: values as
// float32 (converted once when they are not), indptr and indices both int32 or
// both int64 (int32 kept as it is). Rows where a column is stored more than
// once have it once, the values summed in storage order (what scipy's
// toarray() and X @ W give), in a copy; the caller's matrix is never changed.
struct CheckedCsr {
  std::size_t rows = 0, cols = 0;
  IndexType index_type = IndexType::i32;
  py::array indptr, indices;
  py::array_t<float, py::array::c_style | py::array::forcecast> values;  // args.h's FloatArray
  std::size_t nnz = 0;
  CsrRows view() const;
  // Bytes of the three arrays (what a device copy needs).
  double bytes() const;
};

// `obj` (is_sparse) as a checked CSR matrix of at least one row and `cols`
// columns (any number when cols is not given). Errors name `name` and say what
// came: another sparse format (TypeError: convert it with .tocsr()), a shape,
// dtypes, offsets that are not a CSR matrix's, a column index out of range,
// a value that is not finite.
CheckedCsr check_csr(const char* name, const py::handle& obj, std::optional<std::size_t> cols);

}  // namespace mlpcore::bindings
