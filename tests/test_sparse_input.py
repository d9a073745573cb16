"""Sparse X (scipy.sparse) in fit, predict and evaluate: the rows of a batch
(or of a predict / evaluate chunk) are made dense by the backend as they are
needed, so a model trained on a CSR matrix is bitwise the model trained on the
same matrix given dense, on every ISA and thread count, and the whole matrix is
never made dense. Formats other than CSR are converted once; bad matrices
raise naming X."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import mlpcore as mc
from mlpcore import _core
from peak_memory import run_measured

sp = pytest.importorskip("scipy.sparse")

DEVICES = _core.backend_devices()
device = pytest.mark.parametrize("device", DEVICES)
other_device = pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"] or [pytest.param(
    "cuda", marks=pytest.mark.skip(reason="no device other than the CPU here (a CUDA build with an NVIDIA GPU)"))])


def random_csr(rows, cols, density, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    mask = rng.random((rows, cols)) < density
    return sp.csr_matrix(np.where(mask, rng.standard_normal((rows, cols)), 0.0).astype(dtype))


def with_int64_indices(X):
    X = X.copy()
    X.indices = X.indices.astype(np.int64)
    X.indptr = X.indptr.astype(np.int64)
    return X


def flat(model):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in model.get_weights()])


def bits(a):
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


def trained(X, y, shuffle=True, threads=1, batch_size=128, epochs=2, loss="cross_entropy", sample_weight=None,
            seed=5):
    before = mc.get_num_threads()
    mc.set_num_threads(threads)
    try:
        out = 5 if loss == "cross_entropy" else 3
        model = mc.Sequential([mc.Dense(48, activation="relu"), mc.Dense(24, activation="tanh"), mc.Dense(out)],
                              seed=seed)
        model.compile(loss=loss, optimizer=mc.SGD(lr=0.05, momentum=0.9, weight_decay=1e-4))
        model.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=shuffle, verbose=0, sample_weight=sample_weight)
        return model
    finally:
        mc.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    X = random_csr(2000, 500, 0.01, seed=1)
    y = np.random.default_rng(2).integers(0, 5, 2000)
    return X, y


# ---------------------------------------------------------------- the backend operation

@device
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("rows,cols,density", [(1, 1, 1.0), (7, 3, 0.5), (1000, 77, 0.05), (333, 1025, 0.01)])
def test_gather_csr_rows_is_toarray_bit_for_bit(device, index_dtype, rows, cols, density):
    X = random_csr(rows, cols, density, seed=rows + cols)
    if index_dtype == np.int64:
        X = with_int64_indices(X)
    backend = _core.Backend(device)
    dense = X.toarray()
    assert np.array_equal(bits(backend.gather_csr_rows(X)), bits(dense))
    rng = np.random.default_rng(0)
    idx = rng.integers(0, rows, 2 * rows + 5).astype(np.uint32)  # shuffled, with repeats, more rows than X
    assert np.array_equal(bits(backend.gather_csr_rows(X, idx)), bits(dense[idx]))


@device
def test_gather_csr_rows_with_unsorted_columns_empty_rows_and_signed_zeros(device):
    data = np.array([3.0, -0.0, 1.5, -2.0, 0.0, 7.0], np.float32)
    indices = np.array([4, 0, 2, 1, 3, 0], np.int32)
    indptr = np.array([0, 3, 3, 3, 5, 6], np.int32)  # rows 1 and 2 store nothing
    X = sp.csr_matrix((data, indices, indptr), shape=(5, 6))
    assert not X.has_sorted_indices
    got = _core.Backend(device).gather_csr_rows(X)
    assert np.array_equal(bits(got), bits(X.toarray()))  # a stored -0.0 becomes +0.0, as in toarray
    assert np.array_equal(got, [[0, 0, 1.5, 0, 3, 0], [0] * 6, [0] * 6, [0, -2, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0]])


def test_gather_csr_rows_threads_do_not_change_the_bits():
    X = random_csr(3000, 700, 0.02, seed=3)
    idx = np.random.default_rng(1).permutation(3000).astype(np.uint32)
    before = mc.get_num_threads()
    try:
        mc.set_num_threads(1)
        one = _core.Backend("cpu").gather_csr_rows(X, idx)
        mc.set_num_threads(2)
        two = _core.Backend("cpu").gather_csr_rows(X, idx)
    finally:
        mc.set_num_threads(before)
    assert np.array_equal(bits(one), bits(two)) and np.array_equal(one, X.toarray()[idx])


# ---------------------------------------------------------------- training, predict, evaluate

@pytest.mark.parametrize("shuffle", [True, False])
def test_training_on_csr_gives_the_weights_of_the_dense_array(data, shuffle, isa):
    X, y = data
    dense = trained(X.toarray(), y, shuffle=shuffle)
    one = trained(X, y, shuffle=shuffle, threads=1)
    two = trained(X, y, shuffle=shuffle, threads=2)
    assert np.array_equal(bits(flat(one)), bits(flat(dense)))
    assert np.array_equal(bits(flat(two)), bits(flat(dense)))
    assert one.optimizer is not None and one._opt.steps == dense._opt.steps == 2 * 16  # 15 full batches, 1 of 80


@other_device
@pytest.mark.parametrize("shuffle", [True, False])
def test_on_a_device_csr_training_is_the_dense_training_there(data, device, shuffle):
    X, y = data
    X64 = with_int64_indices(X)
    runs = []
    for M in (X, X64, X.toarray()):
        model = mc.Sequential([mc.Dense(48, activation="relu"), mc.Dense(5)], seed=5, device=device)
        model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
        model.fit(M, y, epochs=2, batch_size=128, shuffle=shuffle, verbose=0)
        runs.append((flat(model), model.predict(M), model.evaluate(M, y)))
    for other in runs[1:]:
        assert np.array_equal(bits(runs[0][0]), bits(other[0]))
        assert np.array_equal(bits(runs[0][1]), bits(other[1]))
        assert runs[0][2] == other[2]
    cpu = mc.Sequential([mc.Dense(48, activation="relu"), mc.Dense(5)], seed=5)
    cpu.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
    cpu.fit(X, y, epochs=2, batch_size=128, shuffle=shuffle, verbose=0)
    np.testing.assert_allclose(runs[0][0], flat(cpu), atol=2e-3, rtol=0)


def test_regression_targets_and_sample_weights(data):
    X, _ = data
    rng = np.random.default_rng(4)
    Y = rng.standard_normal((X.shape[0], 3)).astype(np.float32)
    w = rng.random(X.shape[0]).astype(np.float32)
    for shuffle in (True, False):
        a = trained(X, Y, shuffle=shuffle, loss="mse", sample_weight=w, batch_size=300)
        b = trained(X.toarray(), Y, shuffle=shuffle, loss="mse", sample_weight=w, batch_size=300)
        assert np.array_equal(bits(flat(a)), bits(flat(b)))


def test_predict_and_evaluate_on_csr_equal_the_dense_results(data, isa):
    X, y = data
    model = trained(X, y, epochs=1)
    # More rows than a predict chunk (1024 on the CPU) and an evaluate chunk (4096).
    big = sp.vstack([X, X, X[:517]]).tocsr()
    ybig = np.concatenate([y, y, y[:517]])
    assert np.array_equal(bits(model.predict(big)), bits(model.predict(big.toarray())))
    assert model.evaluate(big, ybig) == model.evaluate(big.toarray(), ybig)
    w = np.linspace(0.0, 2.0, big.shape[0]).astype(np.float32)
    assert model.evaluate(big, ybig, sample_weight=w) == model.evaluate(big.toarray(), ybig, sample_weight=w)
    assert np.array_equal(bits(model.predict(X[:1])), bits(model.predict(X[:1].toarray())))


def test_a_wide_matrix_is_made_dense_in_parts_with_the_same_results():
    # 20,000 columns: predict and evaluate make 838 rows dense at a time (64 MiB),
    # not their chunks of 1024 and 4096 rows.
    rng = np.random.default_rng(8)
    rows, cols = 2000, 20_000
    r = np.repeat(np.arange(rows), 10)
    X = sp.csr_matrix((rng.standard_normal(10 * rows).astype(np.float32), (r, rng.integers(0, cols, 10 * rows))),
                      shape=(rows, cols))
    y = rng.integers(0, 3, rows)
    model = mc.Sequential([mc.Dense(8, activation="relu", input_dim=cols), mc.Dense(3)], seed=1)
    model.compile(loss="cross_entropy", optimizer="sgd")
    dense = X.toarray()
    assert np.array_equal(bits(model.predict(X)), bits(model.predict(dense)))
    assert model.evaluate(X, y) == model.evaluate(dense, y)


def test_loss_gradients_of_a_sparse_batch_are_those_of_the_dense_batch(data, isa):
    X, y = data
    model = trained(X, y, epochs=1)
    w = np.linspace(0.5, 1.5, 700).astype(np.float32)
    for rows in (slice(0, 700), slice(1999, 2000)):
        sparse = _core.loss_gradients(model._net, "cross_entropy", X[rows], y[rows], w[:X[rows].shape[0]])
        dense = _core.loss_gradients(model._net, "cross_entropy", X[rows].toarray(), y[rows], w[:X[rows].shape[0]])
        assert sparse[0] == dense[0]
        for (a, b), (c, d) in zip(sparse[1], dense[1]):
            assert np.array_equal(bits(a), bits(c)) and np.array_equal(bits(b), bits(d))
        assert np.array_equal(bits(sparse[2]), bits(dense[2]))


def test_validation_data_may_be_sparse(data):
    X, y = data
    a = mc.Sequential([mc.Dense(16, activation="relu"), mc.Dense(5)], seed=2)
    b = mc.Sequential([mc.Dense(16, activation="relu"), mc.Dense(5)], seed=2)
    for m, Xv in ((a, X[:300]), (b, X[:300].toarray())):
        m.compile(loss="cross_entropy", optimizer="sgd")
        m.fit(X, y, epochs=2, batch_size=100, verbose=0, validation_data=(Xv, y[:300]))
    assert a.history.history["val_loss"] == b.history.history["val_loss"]


@pytest.mark.parametrize("convert", [
    lambda X: X.tocsc(), lambda X: X.tocoo(), lambda X: sp.csr_array(X), lambda X: sp.csc_array(X),
    lambda X: X.tolil(), lambda X: X.todok(), with_int64_indices, lambda X: X.astype(np.float64),
    lambda X: with_int64_indices(X).tocsc(),
], ids=["csc", "coo", "csr_array", "csc_array", "lil", "dok", "int64_indices", "float64", "csc_int64"])
def test_other_formats_index_and_value_types(data, convert):
    X, y = data
    Xc = convert(X)
    before = (Xc.format, Xc.dtype, getattr(Xc, "indices", np.empty(0)).dtype)
    model = trained(Xc, y, epochs=1)
    assert np.array_equal(bits(flat(model)), bits(flat(trained(X, y, epochs=1))))
    assert np.array_equal(bits(model.predict(Xc)), bits(model.predict(X.toarray())))
    assert model.evaluate(Xc, y) == model.evaluate(X.toarray(), y)
    assert (Xc.format, Xc.dtype, getattr(Xc, "indices", np.empty(0)).dtype) == before  # converted copies only


def test_empty_rows_an_empty_column_explicit_zeros_and_an_all_zero_matrix():
    X = random_csr(400, 60, 0.05, seed=6).tolil()
    X[10:50, :] = 0  # empty rows, several in a batch
    X[:, 7] = 0  # a column that no row stores
    X = X.tocsr()
    X.eliminate_zeros()
    assert X.indptr[10] == X.indptr[50] and 7 not in X.indices
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
        X[3, 5] = 0.0  # explicitly stored zeros
        X[3, 9] = 0.0
    assert X.nnz > 0 and X[3].nnz >= 2
    y = np.random.default_rng(0).integers(0, 5, 400)
    for M in (X, sp.csr_matrix((400, 60), dtype=np.float32)):
        assert np.array_equal(bits(flat(trained(M, y, batch_size=64))), bits(flat(trained(M.toarray(), y, batch_size=64))))
        model = trained(M, y, epochs=1, batch_size=64)
        assert np.array_equal(bits(model.predict(M)), bits(model.predict(M.toarray())))
    zero = sp.csr_matrix((400, 60), dtype=np.float32)
    assert zero.nnz == 0
    assert np.array_equal(_core.Backend("cpu").gather_csr_rows(zero), np.zeros((400, 60), np.float32))


def test_a_column_stored_twice_in_a_row_is_summed_as_toarray_does(data):
    _, y = data
    # Row 0 stores column 2 three times, row 2 column 0 twice, out of order.
    data_ = np.array([1.0, 0.5, 2.0, 0.25, 3.0, 1.0, -1.0, 4.0], np.float32)
    indices = np.array([2, 4, 2, 2, 1, 0, 3, 0], np.int32)
    indptr = np.array([0, 4, 5, 8], np.int32)
    X = sp.csr_matrix((data_, indices, indptr), shape=(3, 5))
    kept = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    np.testing.assert_array_equal(_core.Backend("cpu").gather_csr_rows(X), X.toarray())
    model = mc.Sequential([mc.Dense(4, activation="relu", input_dim=5), mc.Dense(2)], seed=0)
    model.compile(loss="cross_entropy", optimizer="sgd")
    assert np.array_equal(bits(model.predict(X)), bits(model.predict(X.toarray())))
    for a, b in zip((X.data, X.indices, X.indptr), kept):
        np.testing.assert_array_equal(a, b)  # the caller's matrix is left as it was


def test_a_large_sparse_matrix_is_never_made_dense():
    """Fit, predict and evaluate on a 25,000 x 4,000 matrix (400 MB dense, 1 MB as CSR)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/status")
    child = r"""
import scipy.sparse as sp

rows, cols = 25_000, 4_000
r = np.repeat(np.arange(rows), 4)
c = (r * 7919 + np.tile(np.arange(4), rows) * 1009) % cols
X = sp.csr_matrix((np.ones(4 * rows, np.float32), (r, c)), shape=(rows, cols))
y = (np.arange(rows) % 3).astype(np.int32)
model = mc.Sequential([mc.Dense(4, activation="relu", input_dim=cols), mc.Dense(3)], seed=0)
model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01))
reset_peak()
base = status("VmRSS")
model.fit(X, y, epochs=1, batch_size=256, verbose=0)
p = model.predict(X)
e = model.evaluate(X, y)
print(json.dumps({"growth": status("VmHWM") - base, "finite": bool(np.isfinite(p).all()) and e["loss"] == e["loss"]}))
"""
    result = run_measured(child)
    assert result["finite"]
    # Dense would be 400 MB; a predict / evaluate chunk of rows is 16 / 64 MB, the outputs 0.3 MB.
    assert result["growth"] < 120 * (1 << 20), result


def test_importing_mlpcore_does_not_import_scipy():
    python_dir = os.path.dirname(os.path.dirname(mc.__file__))
    code = "import sys; import mlpcore; print(any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": python_dir})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- bad input

@pytest.fixture
def model():
    m = mc.Sequential([mc.Dense(4, activation="relu", input_dim=6), mc.Dense(3)], seed=0)
    m.compile(loss="cross_entropy", optimizer="sgd")
    return m


def small():
    return random_csr(8, 6, 0.5, seed=9)


def broken(change):
    X = small()
    change(X)
    return X


Y8 = np.arange(8) % 3


@pytest.mark.parametrize("X,error,match", [
    (random_csr(8, 5, 0.5, seed=1), ValueError, r"X: expected 6 features per row.*\(8, 5\)"),
    (sp.csr_matrix((0, 6), dtype=np.float32), ValueError, r"X: expected a non-empty matrix, got shape \(0, 6\)"),
    (broken(lambda X: X.data.__setitem__(2, np.nan)), ValueError, r"X: expected finite values, found NaN at row \d+, column \d+"),
    (broken(lambda X: X.data.__setitem__(0, -np.inf)), ValueError, r"X: expected finite values, found inf at row 0"),
    (sp.csr_matrix(np.array([[1e39, 0, 0, 0, 0, 1]])), ValueError, r"X: expected finite values, found inf .*float32's range"),
    (broken(lambda X: X.indices.__setitem__(1, 6)), ValueError, r"X: column index 6 out of range \[0, 6\) in row \d+"),
    (broken(lambda X: X.indices.__setitem__(0, -1)), ValueError, r"X: column index -1 out of range"),
    (broken(lambda X: X.indptr.__setitem__(3, X.indptr[5] + 1)), ValueError, r"X.indptr: expected non-decreasing offsets"),
    (sp.csr_matrix(np.ones((8, 6)) * (1 + 1j)), TypeError, r"X: expected real values .*complex128"),
])
def test_bad_matrices_raise_naming_x(model, X, error, match):
    with pytest.raises(error, match=match):
        model.predict(X)
    with pytest.raises(error, match=match):
        model.evaluate(X, Y8[:X.shape[0]])
    with pytest.raises(error, match=match):
        model.fit(X, Y8[:X.shape[0]], epochs=1, verbose=0)
    assert np.isfinite(model.predict(small().toarray())).all()  # the model is still usable


def test_bad_arrays_inside_a_matrix_raise_in_the_core():
    net = mc.Sequential([mc.Dense(3, input_dim=6)], seed=0)
    net.compile(loss="mse", optimizer="sgd")
    native = net._net
    X = small()
    X.indptr = X.indptr[:-1]
    with pytest.raises(ValueError, match=r"X.indptr: expected 9 offsets \(rows \+ 1\)"):
        native.predict(X)
    X = small()
    X.indptr = X.indptr.copy()
    X.indptr[0] = 1
    with pytest.raises(ValueError, match=r"X.indptr: expected 0 as the first offset, got 1"):
        native.predict(X)
    X = small()
    X.indptr = X.indptr.copy()
    X.indptr[-1] = X.nnz + 3
    with pytest.raises(ValueError, match=r"X.indptr: its last offset .* more than"):
        native.predict(X)
    X = small()
    X.indices = X.indices.astype(np.float64)
    with pytest.raises(TypeError, match=r"X.indices: expected a 1-d integer array, got dtype float64"):
        native.predict(X)
    with pytest.raises(TypeError, match=r"X: expected a CSR matrix .*format 'csc'.*tocsr\(\)"):
        native.predict(small().tocsc())
    two = sp.csr_matrix(([3e38, 3e38], [1, 1], [0, 2, 2, 2, 2, 2, 2, 2, 2]), shape=(8, 6), dtype=np.float32)
    with pytest.raises(ValueError, match=r"X: the values stored more than once for one entry sum to inf at row 0, column 1"):
        native.predict(two)


def test_sparse_validation_data_is_named(model):
    X = small()
    bad = broken(lambda M: M.data.__setitem__(1, np.nan))
    with pytest.raises(ValueError, match=r"validation_data\[0\]: expected finite values, found NaN"):
        model.fit(X, Y8, epochs=1, verbose=0, validation_data=(bad, Y8))
    with pytest.raises(ValueError, match=r"validation_data\[0\]: expected 6 features per row"):
        model.fit(X, Y8, epochs=1, verbose=0, validation_data=(random_csr(8, 4, 0.5, seed=0), Y8))


def test_targets_must_match_the_sparse_rows(model):
    with pytest.raises(ValueError, match=r"y: expected 8 targets"):
        model.fit(small(), np.arange(7) % 3, epochs=1, verbose=0)


# ---------------------------------------------------------------- scikit-learn estimators

@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sklearn_estimators_take_sparse_x(data, fmt):
    pytest.importorskip("sklearn")
    from mlpcore.sklearn import MLPClassifier, MLPRegressor

    if not MLPClassifier().__sklearn_tags__().input_tags.sparse:
        pytest.skip("these estimators do not declare sparse input")
    X, y = data
    Xs = X.asformat(fmt)
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0, batch_size=150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after 3 iterations
        a = MLPClassifier(**kw).fit(Xs, y)
        b = MLPClassifier(**kw).fit(X.toarray(), y)
        r = MLPRegressor(early_stopping=True, **kw).fit(Xs, y.astype(float))
        s = MLPRegressor(early_stopping=True, **kw).fit(X.toarray(), y.astype(float))
    for w, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert np.array_equal(w, v)
    assert np.array_equal(a.predict_proba(Xs), b.predict_proba(X.toarray()))
    assert a.score(Xs, y) == b.score(X.toarray(), y)
    assert np.array_equal(r.predict(Xs), s.predict(X.toarray())) and r.validation_scores_ == s.validation_scores_
