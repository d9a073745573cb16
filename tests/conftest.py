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
