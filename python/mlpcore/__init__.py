"""mlpcore: multi-layer perceptrons trained by a native C++ core (SIMD kernels
chosen at run time, OpenMP threads) behind a Keras-like API."""

from __future__ import annotations

from . import _core, callbacks, io, onnx, ops
from ._gradcheck import GradcheckError, GradcheckReport, gradcheck
from .devices import DeviceUnavailableError, cuda_available
from .history import History
from .layers import Dense
from .io import ModelFileError
from .models import ModelBusyError, NotBuiltError, Sequential
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from .plotting import plot_history

__version__ = _core.__version__


def config() -> dict:
    """How this build runs here: version, kernel ISA in use, ISAs this CPU
    supports (best first), thread count, OpenMP and CUDA availability.
    ``emulated_isas`` lists ISAs that run through a software emulation (a test
    build, cmake -DMLPCORE_EMULATE_AVX512=ON): correct, but slow.
    ``flush_denormal``: whether native compute flushes subnormals to zero (see
    set_flush_denormal). ``serial_after_fork``: True in a process forked after
    mlpcore ran a team of threads: OpenMP's threads do not survive fork, so
    native work there runs on one thread (``threads`` is then 1)."""
    return _core.config()


def set_num_threads(n: int) -> None:
    """Threads for all native work, in every Python thread (including ones started
    later). OMP_NUM_THREADS sets the default; threadpoolctl's threadpool_limits
    lowers it for the calling thread while it is in force."""
    from ._checks import positive_int

    _core.set_num_threads(positive_int("n", n))


def set_flush_denormal(enabled: bool) -> None:
    """Whether native compute flushes subnormal floats (magnitudes below 1.2e-38)
    to zero, process-wide; on by default. Operations on subnormals are tens of
    times slower on many CPUs, and long training makes them (the momentum of a
    dead ReLU unit shrinks geometrically), so flushing keeps long runs at full
    speed, at the cost of values below 1.2e-38 becoming 0. It applies only while
    mlpcore computes: the caller's floating-point state is restored on return.
    CUDA kernels always flush."""
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled: expected a bool, got {type(enabled).__name__} {enabled!r}")
    _core.set_flush_denormal(enabled)


def load(path) -> Sequential:
    """A model written by ``model.save(path)`` (a path or a binary file object).
    Reading executes nothing from the file; a truncated or corrupted file raises
    ModelFileError. See mlpcore.io for the format."""
    data, where = io.read(path)
    return Sequential.from_bytes(data, where)


def get_num_threads() -> int:
    return _core.get_num_threads()


def set_isa(name: str) -> None:
    """Use the kernels of a lower instruction set ("avx2", "generic", ...) that this
    machine supports; for tests and benchmarks. MLPCORE_ISA does the same at import."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected an ISA name such as 'avx2' or 'generic', got {type(name).__name__} {name!r}")
    _core.set_isa(name)


__all__ = ["Dense", "DeviceUnavailableError", "GradcheckError", "GradcheckReport", "History", "ModelBusyError", "ModelFileError", "NotBuiltError",
           "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Sequential", "callbacks", "config", "cuda_available", "get_num_threads", "gradcheck", "load", "onnx", "ops",
           "plot_history", "set_flush_denormal", "set_isa", "set_num_threads", "__version__"]
