"""The ``.mlpc`` file format: a pure codec between bytes and (header, arrays),
and atomic file writes. It knows nothing of models: ``model.save(path)`` and
``mlpcore.load(path)`` (mlpcore.models) turn a model into what it encodes and
back, and check every field there.

The format is plain data that executes nothing when read:

=========  ==========================================================
bytes      content
=========  ==========================================================
8          magic ``b"MLPCORE\\0"``
4          format version, little-endian uint32 (currently 2; 1 is still read)
8          header length H, little-endian uint64
H          header: UTF-8 JSON object (see below)
...        the arrays named in the header, in order, each little-endian
           float32 in C order, back to back
32         SHA-256 of every byte before it
=========  ==========================================================

The header holds the architecture (``input_dim``, ``layers``: units,
activation, init), ``seed``, ``loss``, the optimizer's configuration
(``optimizer_kind``: "sgd", "adam", "adamw", "rmsprop" or "adagrad", and
``optimizer``: its settings) and step count (``optimizer_steps``), the training
progress (``epochs_done``) and ``arrays``: a list of ``{"name", "shape"}``. The
arrays are each layer's weights and bias (``layers/<i>/W``, ``layers/<i>/b``)
and, once the model has trained, each optimizer state buffer in the same layout
(``optimizer/<name>/<i>/W``, ``optimizer/<name>/<i>/b``, with torch.optim's
state names: ``momentum_buffer``, ``exp_avg``, ``exp_avg_sq``, ...).
Version 1 files (SGD only: no ``optimizer_kind``, the momentum buffer as
``optimizer/<i>/W``) still load.

Files are written atomically (a temporary file in the same folder, flushed to
disk, then renamed over the target), so a crash mid-save leaves any previous
file intact. Reading checks the checksum, then every field, before building
anything: a truncated, corrupted or hand-edited file raises ModelFileError
(a ValueError) and never yields a model with garbage weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile

import numpy as np

MAGIC = b"MLPCORE\0"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
_PREFIX = struct.Struct("<8sIQ")  # magic, version, header length
_DIGEST = 32
_MAX_LAYERS = 10_000
_MAX_SIZE = 1 << 40


class ModelFileError(ValueError):
    """A model file that is not one, is truncated, corrupted or inconsistent."""


# ---------------------------------------------------------------- encoding
def encode(header: dict, arrays) -> bytes:
    """The bytes of a .mlpc file holding ``header`` (JSON values) and ``arrays``,
    a list of (name, array) written as little-endian float32 in C order; the
    header gains their ``arrays`` description."""
    blobs, described = [], []
    for name, arr in arrays:
        arr = np.ascontiguousarray(arr, dtype="<f4")
        described.append({"name": name, "shape": list(arr.shape)})
        blobs.append(arr.tobytes())
    header = dict(header, arrays=described)
    text = json.dumps(header, sort_keys=True, allow_nan=False).encode("utf-8")
    body = b"".join([_PREFIX.pack(MAGIC, FORMAT_VERSION, len(text)), text, *blobs])
    return body + hashlib.sha256(body).digest()


def write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` (str or os.PathLike) atomically, or to a binary
    file object (written as is)."""
    if hasattr(path, "write"):
        path.write(data)
        return
    _write_atomic(_as_path(path), data)


def _as_path(path) -> str:
    if isinstance(path, (bool, int)) or not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected a file name (str or os.PathLike) or a binary file object, "
                        f"got {type(path).__name__} {path!r}")
    path = os.fsdecode(os.fspath(path))
    if not path:
        raise ValueError("path: expected a file name, got an empty string")
    return path


def _default_mode() -> int:
    """Permissions a newly created file gets (0o666 less the umask)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    return 0o644


def _write_atomic(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        mode = _default_mode()
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        try:
            dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass


# ---------------------------------------------------------------- decoding
def read(path) -> tuple:
    """(the bytes, a name for messages) of ``path`` or a binary file object."""
    if hasattr(path, "read"):
        return path.read(), getattr(path, "name", "file object")
    where = _as_path(path)
    with open(where, "rb") as f:
        return f.read(), where


def decode(data, where: str = "data") -> tuple:
    """(header, {name: float32 array}) from the bytes of a .mlpc file; ModelFileError
    (naming ``where``) if they are not one: wrong magic or version, bad checksum,
    a header that is not a JSON object, arrays that do not fit or are not finite."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data: expected bytes, got {type(data).__name__}")
    return _parse(bytes(data), where)


def _parse(data: bytes, where: str):
    def bad(why: str):
        raise ModelFileError(f"{where}: not a valid mlpcore model file: {why}")

    if len(data) < _PREFIX.size + _DIGEST:
        bad(f"only {len(data)} bytes (truncated?)")
    magic, version, header_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        bad("wrong magic number (not written by mlpcore.save)")
    if version not in READABLE_VERSIONS:
        bad(f"format version {version}; this mlpcore reads versions {', '.join(map(str, READABLE_VERSIONS))} "
            f"(a newer mlpcore wrote it?)")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        bad("checksum mismatch: the file is truncated or corrupted")
    if header_len > len(body) - _PREFIX.size:
        bad(f"header length {header_len} runs past the end of the file")
    start = _PREFIX.size
    try:
        state = json.loads(body[start:start + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        bad(f"header is not valid JSON ({exc.__class__.__name__})")
    if not isinstance(state, dict):
        bad("header is not a JSON object")
    described = state.get("arrays")
    if not isinstance(described, list) or len(described) > 4 * _MAX_LAYERS:
        bad("header field 'arrays' must be a list")
    offset = start + header_len
    arrays = {}
    for i, entry in enumerate(described):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or \
                not isinstance(entry.get("shape"), list):
            bad(f"arrays[{i}] must be an object with 'name' and 'shape'")
        shape = entry["shape"]
        if len(shape) > 2 or not all(type(d) is int and 0 <= d <= _MAX_SIZE for d in shape):
            bad(f"arrays[{i}] has an invalid shape {shape!r}")
        count = math.prod(shape)
        nbytes = 4 * count
        if nbytes > len(body) - offset:
            bad(f"array {entry['name']!r} of shape {tuple(shape)} runs past the end of the file")
        if entry["name"] in arrays:
            bad(f"array {entry['name']!r} appears twice")
        arr = np.frombuffer(body, dtype="<f4", count=count, offset=offset).reshape(shape)
        if not np.isfinite(arr).all():
            bad(f"array {entry['name']!r} holds NaN or infinite values")
        arrays[entry["name"]] = arr.astype(np.float32)  # native order, writable, owns its memory
        offset += nbytes
    if offset != len(body):
        bad(f"{len(body) - offset} bytes after the last array")
    return state, arrays
