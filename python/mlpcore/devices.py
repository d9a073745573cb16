"""Where a model computes: "cpu" (always) or "cuda" (builds made with
``pip install . -C cmake.define.MLPCORE_CUDA=ON``, on a machine with an NVIDIA
GPU and driver)."""

from __future__ import annotations

from . import _core

DEVICES = ("cpu", "cuda")


class DeviceUnavailableError(RuntimeError):
    """The device asked for cannot be used by this build or on this machine."""


def cuda_available() -> bool:
    """True when this build has CUDA and the runtime sees at least one device."""
    info = _core.config()["cuda"]
    return bool(info["compiled"]) and info["devices"] > 0


def resolve(device) -> str:
    """The canonical name of ``device`` ("cpu" or "cuda"), after checking that it can be used."""
    if not isinstance(device, str):
        raise TypeError(f"device: expected 'cpu' or 'cuda', got {type(device).__name__} {device!r}")
    key = device.strip().lower()
    if key == "cuda:0":
        key = "cuda"
    if key not in DEVICES:
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    if key == "cuda":
        info = _core.config()["cuda"]
        if not info["compiled"]:
            raise DeviceUnavailableError(
                "device: 'cuda' was requested, but this build of mlpcore has no CUDA backend; "
                "reinstall it with `pip install . -C cmake.define.MLPCORE_CUDA=ON` (needs the CUDA toolkit), "
                "or use device='cpu'")
        if info["devices"] == 0:
            raise DeviceUnavailableError(
                "device: 'cuda' was requested, but no CUDA device is available on this machine "
                f"({info['unavailable_reason']}); use device='cpu'")
    return key
