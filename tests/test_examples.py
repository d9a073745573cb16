"""The scripts in examples/ run (with their default settings) and reach what
they claim."""

import importlib.util
import pathlib

import numpy as np
import pytest

pytest.importorskip("sklearn")

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def run_example(name, argv=()):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(argv))


def test_digits_classification(tmp_path, capsys):
    argv = ["--verbose", "0"]
    plot = None
    try:
        import matplotlib  # noqa: F401

        plot = tmp_path / "digits.png"
        argv += ["--plot", str(plot)]
    except ImportError:
        pass
    result = run_example("digits_classification", argv)
    assert result["test_accuracy"] > 0.93
    assert "total parameters: 17226" in capsys.readouterr().out
    if plot is not None:
        assert plot.stat().st_size > 1000


def test_diabetes_regression():
    result = run_example("diabetes_regression")
    assert result["r2"] > 0.3 and result["r2"] > result["r2_linear"] - 0.05


def test_xor_sigmoid():
    result = run_example("xor_sigmoid")
    np.testing.assert_array_equal(result["outputs"] > 0.5, [False, True, True, False])
    assert result["loss"][-1] < 0.01 < result["loss"][0]


def test_sklearn_pipeline_grid_search():
    result = run_example("sklearn_pipeline_grid_search")
    assert result["test_accuracy"] > 0.95
    assert set(result["best_params"]) == {"mlp__hidden_layer_sizes", "mlp__learning_rate_init"}
