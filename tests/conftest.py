import numpy as np
import pytest

import mlpcore as mc

SUPPORTED_ISAS = mc.config()["isas"]


@pytest.fixture(params=SUPPORTED_ISAS)
def isa(request):
    """Runs a test once per instruction set this machine supports, then restores the default."""
    default = mc.config()["isa"]
    mc.set_isa(request.param)
    yield request.param
    mc.set_isa(default)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# The scikit-learn test modules' data sets: scaled, and cut to sizes that
# train in well under a second. Skips where scikit-learn is absent.
@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    return (X / 16.0)[:600], y[:600]


@pytest.fixture(scope="module")
def diabetes():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X[:400], (y[:400] - y.mean()) / y.std()
