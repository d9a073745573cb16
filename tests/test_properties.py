"""Property-based tests (hypothesis) over shapes, dtypes, layouts and values:
every call of mc.ops and of the model API gives the right result or a clean
exception, and load() of damaged files never yields a broken model. The same
targets run for as long as one likes in bench/fuzz.py."""

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

import property_targets as targets  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def make(name):
    strategy, check = targets.TARGETS[name]

    @SETTINGS
    @given(case=strategy)
    def test(case):
        check(case)

    test.__name__ = f"test_{name}"
    return test


test_matmul = make("matmul")
test_activation = make("activation")
test_softmax = make("softmax")
test_loss = make("loss")
test_model = make("model")
test_junk_arguments = make("junk")
test_load_arbitrary_bytes = make("load")
