// Rows of a sparse matrix in CSR layout (scipy.sparse's csr_matrix): row r's
// stored entries are values[k] at column indices[k] for k in
// [indptr[r], indptr[r + 1]). The core never makes the whole matrix dense: the
// backend's gather_csr_rows writes the rows a batch needs as dense rows.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mlpcore {

// The integer type of indptr and indices (one for both, as scipy keeps them).
enum class IndexType : int { i32 = 0, i64 = 1 };

constexpr std::size_t index_bytes(IndexType type) { return type == IndexType::i32 ? 4 : 8; }

struct CsrRows {
  IndexType index_type = IndexType::i32;
  const void* indptr = nullptr;   // rows + 1 offsets: indptr[0] == 0, non-decreasing, the last == nnz
  const void* indices = nullptr;  // nnz columns, each in [0, cols), at most once per row, in any order
  const float* values = nullptr;  // nnz values
  std::size_t nnz = 0;

  bool present() const { return indptr != nullptr; }
  // The same matrix seen from row `start` on: indptr moves, indices and values
  // stay (the offsets are absolute), so rows start.. are gathered as rows 0..
  CsrRows from_row(std::size_t start) const {
    CsrRows r = *this;
    r.indptr = static_cast<const unsigned char*>(indptr) + start * index_bytes(index_type);
    return r;
  }
};

// Rows of a CSR matrix that predict and evaluate make dense at a time: the
// backend's chunk, fewer where those dense rows would pass 64 MiB (a wide
// matrix, such as text features), at least one. A row's outputs do not depend
// on how many rows share a product, so the results do not either.
constexpr std::size_t kDenseChunkBytes = std::size_t{64} << 20;

constexpr std::size_t dense_chunk_rows(std::size_t chunk, std::size_t cols) {
  const std::size_t fit = kDenseChunkBytes / (cols * sizeof(float) + 1);
  return fit < 1 ? 1 : (fit < chunk ? fit : chunk);
}

}  // namespace mlpcore
