"""Sparse inputs: scipy.sparse matrices and arrays as X. They are told apart
without importing scipy (it is loaded whenever a value is one) and brought to
CSR with float32 values once per call; the native core checks them and makes
their rows dense a batch (or a chunk) at a time, never the whole matrix."""

from __future__ import annotations

import sys

import numpy as np

from . import _core


def is_sparse(value) -> bool:
    """True for a scipy.sparse matrix or array."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(value))


def csr_rows(name: str, value, columns: int | None = None, check: bool = False):
    """``value`` (is_sparse) as CSR with float32 values: another format (CSC,
    COO, ...) converted once with scipy, the values cast once; the caller's
    matrix is never changed. The shape is checked here; with ``check``, the
    native core's checks too (offsets, column indices, finite values), naming
    ``name``; otherwise the native call that takes it makes them, naming X."""
    if value.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d sparse matrix (samples, features), got shape {value.shape}")
    if value.shape[0] == 0 or value.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty matrix, got shape {value.shape}")
    if columns is not None and value.shape[1] != columns:
        raise ValueError(f"{name}: expected {columns} features per row, got shape {value.shape}")
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected real values (float32 preferred), got dtype {value.dtype}")
    if value.format != "csr":
        value = value.tocsr()
    if value.dtype != np.float32:
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf, which the core refuses
            value = value.astype(np.float32)
    if check:
        _core.check_csr(name, value, columns)
    return value
