"""
mlpcore's native core: kernels, networks and the training loop.
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['ModelBusyError', 'NativeError', 'Network', 'Sgd', 'StepThreads', 'Trainer', 'activation_backward', 'activation_forward', 'all_finite', 'check_sgd', 'config', 'evaluate', 'full_batch_gradients', 'gemm_fused', 'get_num_threads', 'loss', 'loss_gradients', 'matmul', 'set_flush_denormal', 'set_isa', 'set_num_threads', 'softmax']
class ModelBusyError(RuntimeError):
    pass
class NativeError(RuntimeError):
    pass
class Network:
    def __init__(self, input_dim: typing.Any, units: typing.Any, activations: typing.Any, inits: typing.Any, seed: typing.Any) -> None:
        ...
    def get_flat_params(self) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def get_params(self) -> list:
        ...
    def params_finite(self) -> bool:
        ...
    def predict(self, X: typing.Any, transform: typing.Any = 'none') -> numpy.typing.NDArray[numpy.float32]:
        ...
    def set_flat_params(self, params: typing.Any) -> None:
        ...
    def set_params(self, weights: typing.Any) -> None:
        ...
    def weights_squared_norm(self) -> float:
        ...
    @property
    def input_dim(self) -> int:
        ...
    @property
    def num_layers(self) -> int:
        ...
    @property
    def output_dim(self) -> int:
        ...
    @property
    def param_count(self) -> int:
        ...
class Sgd:
    def __init__(self, network: Network, lr: typing.Any, momentum: typing.Any = 0.0, dampening: typing.Any = 0.0, weight_decay: typing.Any = 0.0, nesterov: typing.Any = False, decay_bias: typing.Any = True) -> None:
        ...
    def get_flat_state(self) -> tuple[numpy.typing.NDArray[numpy.float32], int]:
        ...
    def get_state(self, network: Network) -> tuple:
        ...
    def set_flat_state(self, velocity: typing.Any, steps: typing.Any) -> None:
        ...
    def set_lr(self, lr: typing.Any) -> None:
        ...
    def set_state(self, network: Network, velocity: typing.Any, steps: typing.Any) -> None:
        ...
    def state_finite(self) -> bool:
        ...
    def step_if_finite(self, network: Network, grads: typing.Any) -> bool:
        ...
    @property
    def size(self) -> int:
        ...
    @property
    def steps(self) -> int:
        ...
class Trainer:
    def __init__(self, network: Network, sgd: Sgd, loss: typing.Any, batch_size: typing.Any) -> None:
        ...
    def run_epoch(self, X: typing.Any, y: typing.Any, sample_weight: typing.Any = None, shuffle: typing.Any = True, seed: typing.Any = 0, epoch: typing.Any = 0) -> dict:
        ...
class StepThreads:
    def __init__(self, max_threads: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def next(self) -> int:
        """
        Threads for the next step.
        """
    def record(self, threads: typing.SupportsInt | typing.SupportsIndex, seconds_per_row: typing.SupportsFloat | typing.SupportsIndex) -> None:
        """
        The time the step took, per row of its batch.
        """
    @property
    def max_threads(self) -> int:
        ...
def _derive_blocking(isa: str, l1d: typing.SupportsInt | typing.SupportsIndex, l2: typing.SupportsInt | typing.SupportsIndex, l3: typing.SupportsInt | typing.SupportsIndex, l2_cores: typing.SupportsInt | typing.SupportsIndex = 1, l3_cores: typing.SupportsInt | typing.SupportsIndex = 1) -> dict:
    """
    For tests: the caches in use and the blocking derived for an ISA's table from the given cache sizes in bytes (0: unknown) and the cores sharing L2 and L3.
    """
def _float_control() -> int:
    """
    The calling thread's floating-point control register (MXCSR or FPCR), for tests.
    """
def activation_backward(activation: typing.Any, y: typing.Any, dy: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
    ...
def activation_forward(activation: typing.Any, x: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
    ...
def all_finite(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> bool:
    ...
def check_sgd(lr: typing.Any, momentum: typing.Any, dampening: typing.Any, weight_decay: typing.Any, nesterov: typing.Any) -> None:
    """
    Raises what Sgd(...) would for these settings: types and ranges are checked in one place.
    """
def config() -> dict:
    """
    Build and run-time configuration: version, ISA in use, supported ISAs (and which of them are emulated in software), threads, OpenMP, whether this is a forked child running serially, subnormal flushing, CUDA, the caches (a core's share of L1d, L2, L3 in bytes, None where unknown or implausible) and the GEMM blocking derived from them (mr, nr, mc, kc, nc; MLPCORE_BLOCKING overrides kc, mc, nc).
    """
def evaluate(network: Network, loss: typing.Any, X: typing.Any, y: typing.Any, sample_weight: typing.Any = None) -> dict:
    ...
def full_batch_gradients(network: Network, loss: typing.Any, X: typing.Any, y: typing.Any, sample_weight: typing.Any = None) -> tuple:
    """
    (loss, [(dW, db), ...]) of one batch from backpropagation, without the inputs' gradient (for full-batch optimizers: mlpcore.sklearn's L-BFGS).
    """
def gemm_fused(a: typing.Any, b: typing.Any, trans_a: typing.Any = False, trans_b: typing.Any = False, alpha: typing.Any = 1.0, beta: typing.Any = 0.0, c: typing.Any = None, bias: typing.Any = None, activation: typing.Any = 'identity', act_output: typing.Any = None, column_sums: typing.Any = False) -> tuple:
    ...
def get_num_threads() -> int:
    ...
def loss(loss: typing.Any, output: typing.Any, target: typing.Any, sample_weight: typing.Any = None) -> tuple:
    ...
def loss_gradients(network: Network, loss: typing.Any, X: typing.Any, y: typing.Any, sample_weight: typing.Any = None, _fault: typing.Any = None) -> tuple:
    """
    (loss, [(dW, db), ...], dX) of one batch from backpropagation (for mlpcore.gradcheck); _fault is for tests only.
    """
def matmul(a: typing.Any, b: typing.Any, trans_a: typing.Any = False, trans_b: typing.Any = False, alpha: typing.Any = 1.0, beta: typing.Any = 0.0, c: typing.Any = None) -> numpy.typing.NDArray[numpy.float32]:
    ...
def set_flush_denormal(enabled: typing.Any) -> None:
    """
    Whether native compute flushes subnormal floats to zero (process-wide, default True).
    """
def set_isa(name: typing.Any) -> None:
    """
    Use the kernels of another instruction set this machine supports (for testing and benchmarks).
    """
def set_num_threads(n: typing.Any) -> None:
    ...
def softmax(x: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
    ...
__version__: str = '0.1.0'
