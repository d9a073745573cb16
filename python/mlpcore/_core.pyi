"""
mlpcore's native core: kernels, networks and the training loop.
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['Backend', 'DeviceError', 'ModelBusyError', 'NativeError', 'Network', 'Optimizer', 'Sgd', 'StepThreads', 'Trainer', 'activation_backward', 'activation_forward', 'adagrad_step', 'adam_step', 'all_finite', 'backend_devices', 'check_adagrad', 'check_adam', 'check_csr', 'check_rmsprop', 'check_sgd', 'config', 'evaluate', 'full_batch_gradients', 'gemm_fused', 'get_num_threads', 'loss', 'loss_gradients', 'matmul', 'measure_fma_peak', 'rmsprop_step', 'set_flush_denormal', 'set_isa', 'set_num_threads', 'softmax']
class ModelBusyError(RuntimeError):
    pass
class NativeError(RuntimeError):
    pass
class DeviceError(RuntimeError):
    pass
class Network:
    def __init__(self, input_dim: typing.Any, units: typing.Any, activations: typing.Any, inits: typing.Any, seed: typing.Any, device: typing.Any = 'cpu') -> None:
        ...
    def get_flat_params(self) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def get_params(self) -> list:
        ...
    def predict(self, X: typing.Any, transform: typing.Any = 'none') -> numpy.typing.NDArray[numpy.float32]:
        """
        Outputs for the rows of X: a float32 array, or a scipy.sparse CSR matrix made dense a chunk of rows at a time.
        """
    def set_flat_params(self, params: typing.Any) -> None:
        ...
    def set_params(self, weights: typing.Any) -> None:
        ...
    def to(self, device: typing.Any) -> None:
        """
        Moves the parameters to the device's memory.
        """
    def weights_squared_norm(self) -> float:
        ...
    @property
    def device(self) -> str:
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
class Trainer:
    def __init__(self, network: Network, sgd: ..., loss: typing.Any, batch_size: typing.Any) -> None:
        ...
    def load_data(self, X: typing.Any, y: typing.Any, sample_weight: typing.Any = None) -> None:
        """
        Checks the data and makes it what run_epoch trains on (copied to the device once); X is a float32 array or a scipy.sparse CSR matrix, whose batches are made dense as they are drawn.
        """
    def release_data(self) -> None:
        """
        Lets go of the data load_data gave (its device copy, or the arrays it borrowed).
        """
    def run_epoch(self, shuffle: typing.Any = True, seed: typing.Any = 0, epoch: typing.Any = 0) -> dict:
        ...
    @property
    def batch_size(self) -> int:
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
class Optimizer:
    """
    An optimizer of any kind for one network, on the network's device.
    """
    def __init__(self, network: Network, kind: typing.Any, config: typing.Any, decay_bias: typing.Any = True) -> None:
        ...
    def get_flat_state(self) -> tuple:
        ...
    def get_state(self, network: Network) -> tuple:
        ...
    def set_flat_state(self, state: typing.Any, steps: typing.Any) -> None:
        ...
    def set_lr(self, lr: typing.Any) -> None:
        ...
    def set_state(self, network: Network, state: typing.Any, steps: typing.Any) -> None:
        ...
    def state_finite(self) -> bool:
        ...
    def step_if_finite(self, network: Network, grads: typing.Any) -> bool:
        ...
    def to(self, device: typing.Any) -> None:
        """
        Moves the state to the device's memory.
        """
    @property
    def device(self) -> str:
        ...
    @property
    def kind(self) -> str:
        ...
    @property
    def lr(self) -> float:
        ...
    @property
    def size(self) -> int:
        ...
    @property
    def state_names(self) -> list[str]:
        ...
    @property
    def steps(self) -> int:
        ...
class Backend:
    """
    A device's backend operations on host arrays, for tests.
    """
    def __init__(self, device: typing.Any) -> None:
        ...
    def activation_backward(self, activation: typing.Any, y: typing.Any, dy: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def adam_update(self, params: typing.Any, grads: typing.Any, exp_avg: typing.Any, exp_avg_sq: typing.Any, max_exp_avg_sq: typing.Any, lr: typing.Any, betas: typing.Any, eps: typing.Any, weight_decay: typing.Any, decoupled: typing.Any, step: typing.Any) -> tuple:
        """
        One Adam / AdamW update under the divergence rule on copies: (params, state slots, applied).
        """
    def batch_loss(self, loss: typing.Any, output: typing.Any, target: typing.Any, sample_weight: typing.Any = None) -> tuple:
        """
        (mean loss, gradient, correct predictions, diverged) of one batch.
        """
    def gather_csr_rows(self, x: typing.Any, idx: typing.Any = None) -> numpy.typing.NDArray[numpy.float32]:
        """
        Rows idx (all, in order, when None) of a scipy.sparse CSR matrix as dense float32 rows.
        """
    def gather_rows(self, x: typing.Any, idx: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def gemm_fused(self, a: typing.Any, b: typing.Any, trans_a: typing.Any = False, trans_b: typing.Any = False, alpha: typing.Any = 1.0, beta: typing.Any = 0.0, c: typing.Any = None, bias: typing.Any = None, activation: typing.Any = 'identity', act_output: typing.Any = None, column_sums: typing.Any = False) -> tuple:
        ...
    def max_abs(self, x: typing.Any) -> float:
        ...
    def output_transform(self, loss: typing.Any, x: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def sgd_update(self, params: typing.Any, grads: typing.Any, velocity: typing.Any, lr: typing.Any, momentum: typing.Any = 0.0, dampening: typing.Any = 0.0, weight_decay: typing.Any = 0.0, nesterov: typing.Any = False, first_step: typing.Any = True) -> tuple:
        """
        One update under the divergence rule on copies: (params, velocity, applied).
        """
    def time_sgemm(self, m: typing.Any, n: typing.Any, k: typing.Any, trans_a: typing.Any = False, trans_b: typing.Any = False, repeats: typing.Any = 10, bias: typing.Any = False, activation: typing.Any = 'identity') -> float:
        """
        Seconds per SGEMM call on device-resident operands (benchmarks).
        """
    @property
    def device(self) -> str:
        ...
def Sgd(network: Network, lr: typing.Any, momentum: typing.Any = 0.0, dampening: typing.Any = 0.0, weight_decay: typing.Any = 0.0, nesterov: typing.Any = False, decay_bias: typing.Any = True) -> Optimizer:
    """
    An SGD Optimizer (torch.optim.SGD's settings).
    """
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
def adagrad_step(param: typing.Any, grad: typing.Any, state_sum: typing.Any, *, lr: typing.Any, lr_decay: typing.Any, weight_decay: typing.Any, eps: typing.Any, step: typing.Any) -> None:
    """
    One torch.optim.Adagrad update, in place on float32 arrays; step counts from 1.
    """
def adam_step(param: typing.Any, grad: typing.Any, exp_avg: typing.Any, exp_avg_sq: typing.Any, max_exp_avg_sq: typing.Any, *, lr: typing.Any, betas: typing.Any, eps: typing.Any, weight_decay: typing.Any, amsgrad: typing.Any, decoupled: typing.Any, step: typing.Any) -> None:
    """
    One torch.optim.Adam (AdamW: decoupled=True) update, in place on float32 arrays; step counts from 1.
    """
def all_finite(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> bool:
    ...
def backend_devices() -> list[str]:
    """
    The devices this build and machine have a backend for.
    """
def check_adagrad(lr: typing.Any, lr_decay: typing.Any, weight_decay: typing.Any, initial_accumulator_value: typing.Any, eps: typing.Any) -> None:
    """
    Raises what an Adagrad optimizer would for these settings.
    """
def check_adam(lr: typing.Any, betas: typing.Any, eps: typing.Any, weight_decay: typing.Any, amsgrad: typing.Any, decoupled: typing.Any) -> None:
    """
    Raises what an Adam or AdamW update would for these settings: types and ranges are checked in one place.
    """
def check_csr(name: typing.Any, X: typing.Any, columns: typing.Any = None) -> None:
    """
    Raises what fit, predict and evaluate would for the sparse matrix X, naming it `name`.
    """
def check_rmsprop(lr: typing.Any, alpha: typing.Any, eps: typing.Any, weight_decay: typing.Any, momentum: typing.Any, centered: typing.Any) -> None:
    """
    Raises what an RMSprop update would for these settings.
    """
def check_sgd(lr: typing.Any, momentum: typing.Any, dampening: typing.Any, weight_decay: typing.Any, nesterov: typing.Any) -> None:
    """
    Raises what Sgd(...) would for these settings: types and ranges are checked in one place.
    """
def config() -> dict:
    """
    Build and run-time configuration: version, ISA in use, the CPU's model name, supported ISAs (and which of them are emulated in software), threads, OpenMP, whether this is a forked child running serially, subnormal flushing, CUDA, the caches (a core's share of L1d, L2, L3 in bytes, None where unknown or implausible) and the GEMM blocking derived from them (mr, nr, mc, kc, nc; MLPCORE_BLOCKING overrides kc, mc, nc).
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
    (loss, [(dW, db), ...], dX) of one batch from backpropagation (for mlpcore.gradcheck); X dense or a scipy.sparse CSR matrix (made dense for the batch); _fault is for tests only.
    """
def matmul(a: typing.Any, b: typing.Any, trans_a: typing.Any = False, trans_b: typing.Any = False, alpha: typing.Any = 1.0, beta: typing.Any = 0.0, c: typing.Any = None) -> numpy.typing.NDArray[numpy.float32]:
    ...
def measure_fma_peak() -> float:
    """
    FLOP/s of one core at the peak FMA throughput of the ISA in use, measured (about 0.3 s; the fastest of many short register-only runs). 0.0 where unknown (the portable kernels, an emulated ISA). For benchmarks, to give figures as a fraction of the machine's peak.
    """
def rmsprop_step(param: typing.Any, grad: typing.Any, square_avg: typing.Any, grad_avg: typing.Any, momentum_buffer: typing.Any, *, lr: typing.Any, alpha: typing.Any, eps: typing.Any, weight_decay: typing.Any, momentum: typing.Any, centered: typing.Any) -> None:
    """
    One torch.optim.RMSprop update, in place on float32 arrays.
    """
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
