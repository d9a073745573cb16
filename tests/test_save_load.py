"""model.save / mlpcore.load and pickling: everything comes back, training
resumes bit for bit, and a damaged file is refused with a clear error."""

import hashlib
import io as pyio
import json
import os
import pickle
import struct

import numpy as np
import pytest

import mlpcore as mc
from mlpcore import io as codec


def data(rows=300, features=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    y = rng.integers(0, classes, rows)
    return X, y


def make(loss="cross_entropy", out=4, **opt):
    opt = {"lr": 0.05, "momentum": 0.9, **opt}
    m = mc.Sequential([mc.Dense(16, activation="tanh"), mc.Dense(8, activation="relu", init="he"),
                       mc.Dense(out, activation="softmax" if loss == "cross_entropy" else None)], seed=7)
    m.compile(loss=loss, optimizer=mc.SGD(**opt))
    return m


def same_weights(a, b):
    return all(np.array_equal(p, q) for x, z in zip(a.get_weights(), b.get_weights()) for p, q in zip(x, z))


@pytest.mark.parametrize("opt", [{}, {"nesterov": True}, {"momentum": 0.0}, {"weight_decay": 1e-3, "dampening": 0.1}])
def test_resume_is_bitwise_equal_to_training_straight(tmp_path, opt):
    X, y = data()
    straight = make(**opt)
    straight.fit(X, y, epochs=4, batch_size=16, verbose=0)
    first = make(**opt)
    first.fit(X, y, epochs=2, batch_size=16, verbose=0)
    first.save(tmp_path / "m.mlpc")
    resumed = mc.load(tmp_path / "m.mlpc")
    assert resumed.epochs_done == 2
    resumed.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert resumed.epochs_done == 4
    assert same_weights(straight, resumed)
    assert not same_weights(first, resumed)


def test_everything_round_trips(tmp_path):
    X, y = data()
    m = make(nesterov=True, weight_decay=1e-4)
    m.fit(X, y, epochs=1, batch_size=32, verbose=0)
    path = str(tmp_path / "model.mlpc")
    m.save(path)
    back = mc.load(path)
    assert [(l.units, l.activation, l.init) for l in back.layers] == \
           [(l.units, l.activation, l.init) for l in m.layers]
    assert back.seed == m.seed and back.input_dim == 12 and back._loss == "cross_entropy"
    assert back._optimizer.get_config() == m._optimizer.get_config()
    assert back._opt.steps == m._opt.steps == 10
    for (va, ba), (vb, bb) in zip(m._opt.get_state(m._net)[0]["momentum_buffer"],
                                  back._opt.get_state(back._net)[0]["momentum_buffer"]):
        np.testing.assert_array_equal(va, vb)
        np.testing.assert_array_equal(ba, bb)
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    assert back.evaluate(X, y) == m.evaluate(X, y)


@pytest.mark.parametrize("state", ["unbuilt", "built", "compiled", "regression"])
def test_models_in_every_state_round_trip(state):
    X, y = data(features=5)
    if state == "unbuilt":
        m = mc.Sequential([mc.Dense(3), mc.Dense(2)], seed=3)
    elif state == "built":
        m = mc.Sequential([mc.Dense(3, input_dim=5), mc.Dense(2, activation="softmax")], seed=3)
        m.build(5)
    elif state == "compiled":
        m = mc.Sequential([mc.Dense(3, input_dim=5), mc.Dense(4)], seed=3)
        m.compile(loss="cross_entropy", optimizer="sgd")
    else:
        m = make(loss="mse", out=2)
        m.fit(X, np.c_[X[:, :1], X[:, 1:2]], epochs=2, verbose=0)
    buf = pyio.BytesIO()
    m.save(buf)
    back = mc.load(pyio.BytesIO(buf.getvalue()))
    assert back.built == m.built and back.epochs_done == m.epochs_done
    if m.built:
        assert same_weights(m, back)
        np.testing.assert_array_equal(back.predict(X), m.predict(X))


def test_pickle_and_deepcopy():
    import copy

    X, y = data()
    m = make()
    m.fit(X, y, epochs=1, verbose=0)
    for back in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        np.testing.assert_array_equal(back.predict(X), m.predict(X))
        back.fit(X, y, epochs=1, verbose=0)  # usable, independent
        m2 = pickle.loads(pickle.dumps(m))
        m2.fit(X, y, epochs=1, verbose=0)
        assert same_weights(back, m2)
    joblib = pytest.importorskip("joblib")
    buf = pyio.BytesIO()
    joblib.dump(m, buf)
    buf.seek(0)
    np.testing.assert_array_equal(joblib.load(buf).predict(X), m.predict(X))


def test_save_is_atomic_and_keeps_permissions(tmp_path, monkeypatch):
    X, y = data()
    m = make()
    path = tmp_path / "m.mlpc"
    m.save(path)
    os.chmod(path, 0o640)
    good = path.read_bytes()
    m.fit(X, y, epochs=1, verbose=0)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == good  # the old file is intact
    assert os.listdir(tmp_path) == ["m.mlpc"]  # and no temporary file is left behind
    m.save(path)
    assert path.read_bytes() != good
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_save_and_load_argument_errors(tmp_path):
    m = make()
    for bad in (None, 3, 2.5, ["a"]):
        with pytest.raises(TypeError, match="path"):
            m.save(bad)
        with pytest.raises(TypeError, match="path"):
            mc.load(bad)
    with pytest.raises(ValueError, match="path"):
        m.save("")
    with pytest.raises(FileNotFoundError):
        mc.load(tmp_path / "missing.mlpc")
    with pytest.raises(FileNotFoundError):
        m.save(tmp_path / "no" / "such" / "dir.mlpc")
    with pytest.raises(TypeError, match="data"):
        mc.Sequential.from_bytes("a string")


def saved_bytes():
    X, y = data()
    m = make()
    m.fit(X, y, epochs=1, verbose=0)
    return m.to_bytes()


def test_every_truncation_is_refused():
    raw = saved_bytes()
    cuts = sorted(set(range(0, 64)) | set(range(0, len(raw), max(1, len(raw) // 300))) | {len(raw) - 1})
    for cut in cuts:
        with pytest.raises(mc.ModelFileError):
            mc.Sequential.from_bytes(raw[:cut])


def test_flipped_bits_are_refused():
    raw = saved_bytes()
    rng = np.random.default_rng(1)
    for pos in list(rng.integers(0, len(raw), 300)) + [0, 8, 12, 20, len(raw) - 1]:
        bad = bytearray(raw)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(mc.ModelFileError):
            mc.Sequential.from_bytes(bytes(bad))
    with pytest.raises(mc.ModelFileError, match="magic"):
        mc.Sequential.from_bytes(b"PK\x03\x04" + raw[4:])


def reseal(header: dict, blobs: bytes, version=2) -> bytes:
    """A file with a valid checksum around a hand-made header: what an editor or a
    malicious writer could produce, which the checksum cannot catch."""
    h = json.dumps(header).encode()
    body = struct.pack("<8sIQ", b"MLPCORE\0", version, len(h)) + h + blobs
    return body + hashlib.sha256(body).digest()


def split(raw: bytes):
    _, _, n = struct.unpack_from("<8sIQ", raw)
    return json.loads(raw[20:20 + n]), raw[20 + n:-32]


@pytest.mark.parametrize("edit,word", [
    (lambda h: h.update(seed=-1), "seed"),
    (lambda h: h.update(seed="0"), "seed"),
    (lambda h: h.update(epochs_done=1.5), "epochs_done"),
    (lambda h: h.update(loss="hinge"), "loss"),
    (lambda h: h.update(loss=None), "loss"),
    (lambda h: h["optimizer"].update(lr=-1), "lr"),
    (lambda h: h["optimizer"].update(evil="__import__('os')"), "evil"),
    (lambda h: h.update(optimizer=[1]), "optimizer"),
    (lambda h: h["layers"][0].update(units=17), "shape"),
    (lambda h: h["layers"][0].update(units=10**12), "units"),
    (lambda h: h["layers"][1].update(activation="exec"), "activation"),
    (lambda h: h["layers"].append({"units": 3}), "layers[3]"),
    (lambda h: h.update(layers="Dense(3)"), "layers"),
    (lambda h: h.update(input_dim=13), "shape"),
    (lambda h: h.update(optimizer_steps=-3), "optimizer_steps"),
    (lambda h: h["arrays"][0].update(shape=[12, 16, 1]), "shape"),
    (lambda h: h["arrays"][0].update(shape=[10**9, 10**9]), "past the end"),
    (lambda h: h["arrays"][0].update(shape=[-1, 16]), "shape"),
    (lambda h: h["arrays"][0].update(name="layers/1/W"), "twice"),
    (lambda h: h["arrays"][0].update(name="evil"), "arrays"),
    (lambda h: h["arrays"].pop(), "bytes after"),
    (lambda h: h.update(arrays={}), "arrays"),
    (lambda h: h.update(format="pickle"), "format"),
])
def test_inconsistent_headers_are_refused(edit, word):
    header, blobs = split(saved_bytes())
    edit(header)
    with pytest.raises(mc.ModelFileError) as e:
        mc.Sequential.from_bytes(reseal(header, blobs))
    assert word in str(e.value)


def test_non_finite_weights_and_bad_json_are_refused():
    header, blobs = split(saved_bytes())
    nan_blob = np.array([np.nan], "<f4").tobytes() + blobs[4:]
    with pytest.raises(mc.ModelFileError, match="NaN"):
        mc.Sequential.from_bytes(reseal(header, nan_blob))
    with pytest.raises(mc.ModelFileError, match="format version"):
        mc.Sequential.from_bytes(reseal(header, blobs, version=3))
    for text in (b"[" * 100000, b"\xff\xfe", b"[1, 2]", b"{\"arrays\": 5}"):
        body = struct.pack("<8sIQ", b"MLPCORE\0", 1, len(text)) + text
        with pytest.raises(mc.ModelFileError):
            mc.Sequential.from_bytes(body + hashlib.sha256(body).digest())


def test_the_file_holds_no_pickle():
    raw = saved_bytes()
    header, _ = split(raw)
    assert header["format"] == "mlpcore.Sequential"
    assert b"\x80\x04" not in raw[:40] and b"cnumpy" not in raw and b"__reduce__" not in raw


def test_unpickling_garbage_is_refused():
    m = make()
    with pytest.raises(mc.ModelFileError):
        m.__setstate__({"other": 1})
    with pytest.raises(mc.ModelFileError):
        m.__setstate__({"mlpcore_file": b"junk"})


def test_the_codec_knows_nothing_of_the_package():
    """mlpcore.io is a pure codec (bytes <-> header and arrays): it imports no
    part of mlpcore, so models import it and never the other way round."""
    import ast

    with open(codec.__file__) as f:
        tree = ast.parse(f.read())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    relative = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert relative == [] and not any(name.startswith("mlpcore") for name in imported), imported


def test_bytes_round_trip_through_the_codec(rng):
    m = mc.Sequential([mc.Dense(4, activation="tanh"), mc.Dense(2)], input_dim=3, seed=5)
    m.compile(loss="mse", optimizer=mc.SGD(lr=0.1, momentum=0.5))
    m.fit(rng.random((20, 3), dtype=np.float32), rng.random((20, 2), dtype=np.float32), epochs=1, verbose=0)
    header, arrays = codec.decode(m.to_bytes())
    assert header["format"] == "mlpcore.Sequential" and sorted(arrays) == sorted(
        [f"{kind}/{i}/{p}" for kind in ("layers", "optimizer/momentum_buffer") for i in range(2) for p in "Wb"])
    np.testing.assert_array_equal(arrays["layers/0/W"], m.get_weights()[0][0])
    assert codec.encode({k: v for k, v in header.items() if k != "arrays"},
                               [(entry["name"], arrays[entry["name"]]) for entry in header["arrays"]]) == m.to_bytes()
