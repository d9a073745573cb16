"""mlpcore: multi-layer perceptrons trained by a native C++ core (SIMD kernels
chosen at run time, OpenMP threads) behind a Keras-like API."""

from __future__ import annotations

from . import _core, callbacks, ops
from .history import History
from .layers import Dense
from .models import NotBuiltError, Sequential
from .optimizers import SGD
from .plotting import plot_history

__version__ = _core.__version__


def config() -> dict:
    """How this build runs here: version, kernel ISA in use, ISAs this CPU
    supports (best first), thread count, OpenMP and CUDA availability."""
    return _core.config()


def set_num_threads(n: int) -> None:
    """Threads for all native work (also settable with OMP_NUM_THREADS or threadpoolctl)."""
    from ._checks import positive_int

    _core.set_num_threads(positive_int("n", n))


def get_num_threads() -> int:
    return _core.get_num_threads()


def set_isa(name: str) -> None:
    """Use the kernels of a lower instruction set ("avx2", "generic", ...) that this
    machine supports; for tests and benchmarks. MLPCORE_ISA does the same at import."""
    _core.set_isa(name)


__all__ = ["Dense", "History", "NotBuiltError", "SGD", "Sequential", "callbacks", "config", "get_num_threads",
           "ops", "plot_history", "set_isa", "set_num_threads", "__version__"]
