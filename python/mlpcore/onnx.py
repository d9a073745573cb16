"""Export to ONNX, for serving with onnxruntime (or any ONNX runtime).

    model.to_onnx("model.onnx")                # a Sequential (or mlpcore.onnx.export(model, path))
    clf.to_onnx("clf.onnx")                    # mlpcore.sklearn.MLPClassifier / MLPRegressor
    skl2onnx.to_onnx(pipeline, X[:1])          # a Pipeline holding them, when skl2onnx is installed

The graph is built with the ``onnx`` package, an optional extra
(``pip install "mlpcore[onnx]"``, which also installs onnxruntime): per layer a
Gemm (X W + b) and its activation (Relu, Sigmoid, Tanh or Identity), then the
output transform the loss implies (Softmax for cross-entropy, Sigmoid for binary
cross-entropy), so the file computes what ``predict`` returns. The batch
dimension is dynamic (``"batch"``); weights are float32 initializers. Every file
passes ``onnx.checker.check_model``.

Names and outputs:
- ``Sequential``: input ``"input"`` [batch, input_dim] float32, output
  ``"output"`` [batch, output_dim] float32 (what ``predict`` returns).
- ``MLPClassifier``: input ``"X"``; outputs ``"label"`` (the labels ``predict``
  gives: int64 for integer and bool classes, string for strings, double for
  float classes; [batch, n_labels] int64 for multi-label) and ``"probabilities"``
  (``predict_proba``, float32).
- ``MLPRegressor``: input ``"X"``; output ``"predictions"`` float32, [batch]
  for one target (as ``predict``), [batch, n_targets] otherwise.

Metadata (``metadata_props``): ``mlpcore_version``, ``loss``, ``layers`` (JSON:
units and activation per layer), ``classes`` (JSON, classifiers). ``opset``
defaults to 17, which current onnxruntime releases run; 13 up to the newest
the installed onnx package knows are accepted (the ops used are the same in all).

In a scikit-learn ``Pipeline``, skl2onnx converts mlpcore's estimators through a
converter registered with it: automatically once ``mlpcore.sklearn`` and
``skl2onnx`` are both imported (in either order), or explicitly with
``register_skl2onnx()``. There the outputs follow skl2onnx's conventions
(``label`` and ``probabilities``, with its ZipMap unless ``zipmap=False``;
``variable`` [batch, n_targets] for regressors).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys

import numpy as np

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Softmax over one axis, and every op used here as it is now

_INT64 = 7  # onnx.TensorProto.INT64 (a fixed enum value), without importing onnx here
_ONNX_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": "Identity"}


def _import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError('ONNX export needs the onnx package: pip install "mlpcore[onnx]"') from exc
    return onnx


def _check_opset(onnx, opset) -> int:
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, (bool, np.bool_)) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset: expected an integer, got {type(opset).__name__} {opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset: expected an ONNX opset in [{MIN_OPSET}, {newest}] (the newest this onnx "
                         f"package knows; onnxruntime may run fewer), got {opset}")
    return int(opset)


# ---------------------------------------------------------------- graph building

class _Graph:
    """Nodes and initializers of a graph under construction, with unique names.
    The skl2onnx converter uses _SklGraph, the same interface on its container."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes, self.initializers, self._names = [], [], set()

    def name(self, prefix: str) -> str:
        n, i = prefix, 1
        while n in self._names:
            n, i = f"{prefix}_{i}", i + 1
        self._names.add(n)
        return n

    def const(self, prefix: str, array) -> str:
        name = self.name(prefix)
        array = np.asarray(array)
        if array.dtype.kind in "USO":
            tensor = self.onnx.helper.make_tensor(name, self.onnx.TensorProto.STRING, array.shape,
                                                  [str(s).encode("utf-8") for s in array.ravel()])
        else:
            tensor = self.onnx.numpy_helper.from_array(array, name)
        self.initializers.append(tensor)
        return name

    def node(self, op: str, inputs, output: str | None = None, domain: str = "", **attrs) -> str:
        output = self.name(op.lower()) if output is None else output
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [output], name=self.name(f"{op}_node"),
                                                     domain=domain, **attrs))
        return output


class _SklGraph:
    """_Graph's interface on skl2onnx's scope and container."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def name(self, prefix: str) -> str:
        return self.scope.get_unique_variable_name(prefix)

    def const(self, prefix: str, array) -> str:
        from onnx import TensorProto, numpy_helper

        name = self.name(prefix)
        array = np.asarray(array)
        if array.dtype.kind in "USO":
            self.container.add_initializer(name, TensorProto.STRING, list(array.shape),
                                           [str(s).encode("utf-8") for s in array.ravel()])
        else:
            tensor = numpy_helper.from_array(array, name)
            self.container.add_initializer(name, tensor.data_type, list(array.shape), tensor)
        return name

    def node(self, op: str, inputs, output: str | None = None, domain: str = "", **attrs) -> str:
        output = self.name(op.lower()) if output is None else output
        self.container.add_node(op, list(inputs), [output], op_domain=domain,
                                name=self.scope.get_unique_operator_name(op), **attrs)
        return output


def _network(g, x: str, weights, activations) -> str:
    """Gemm + activation per layer; returns the last layer's output."""
    for l, ((w, b), act) in enumerate(zip(weights, activations)):
        W = g.const(f"W{l}", np.ascontiguousarray(w, dtype=np.float32))
        B = g.const(f"b{l}", np.ascontiguousarray(b, dtype=np.float32))
        x = g.node("Gemm", [x, W, B], g.name(f"dense{l}_z"))
        x = g.node(_ONNX_ACTIVATIONS[act], [x], g.name(f"dense{l}_{act}"))
    return x


def _label_table(classes: np.ndarray, integer_labels: bool = False) -> np.ndarray:
    """classes_ as the constant the labels are gathered from."""
    kind = classes.dtype.kind
    if kind == "b" and not integer_labels:
        return classes
    if kind in "iub":
        return classes.astype(np.int64)
    if kind == "f":
        if integer_labels:  # skl2onnx's label types are int64 and string
            if not np.array_equal(classes, np.round(classes)):
                raise ValueError(f"classes_: skl2onnx labels are int64 or strings; these float classes are not "
                                 f"whole numbers: {classes.tolist()}")
            return classes.astype(np.int64)
        return classes.astype(np.float64)
    return np.array([str(c) for c in classes], dtype=object)


def _classifier_outputs(g, est, logits: str, label: str, probabilities: str, integer_labels=False):
    """The label and probabilities outputs of an MLPClassifier, from the last layer's raw output."""
    multilabel = est._y_type == "multilabel-indicator"
    if est.out_activation_ == "softmax":
        g.node("Softmax", [logits], probabilities, axis=1)
    elif multilabel:
        g.node("Sigmoid", [logits], probabilities)
    else:  # one logistic output: [1 - p, p], as predict_proba
        p = g.node("Sigmoid", [logits], g.name("positive_probability"))
        q = g.node("Sub", [g.const("one", np.array(1.0, np.float32)), p], g.name("negative_probability"))
        g.node("Concat", [q, p], probabilities, axis=1)
    if multilabel:
        above = g.node("Greater", [probabilities, g.const("half", np.array(0.5, np.float32))], g.name("above_half"))
        g.node("Cast", [above], label, to=_INT64)
        return
    table = _label_table(np.asarray(est.classes_), integer_labels)
    if len(table) == 1:  # one class seen: predict gives it for every row (two probability columns)
        table = np.concatenate([table, table])
    index = g.node("ArgMax", [probabilities], g.name("class_index"), axis=1, keepdims=0)
    g.node("Gather", [g.const("classes", table), index], label, axis=0)


def _label_elem_type(onnx, table: np.ndarray):
    if table.dtype == object:
        return onnx.TensorProto.STRING
    return onnx.helper.np_dtype_to_tensor_dtype(table.dtype)


# ---------------------------------------------------------------- export

def _sequential_graph(onnx, model):
    from . import __version__, losses

    model._require_built("to_onnx")
    weights = model.get_weights()
    acts = list(model._net_activations)
    g = _Graph(onnx)
    x = "input"
    g._names.update({"input", "output"})
    out = _network(g, x, weights, acts)
    if model._loss == losses.CROSS_ENTROPY or (model._loss is None and model.layers[-1].activation == "softmax"):
        g.node("Softmax", [out], "output", axis=1)
        transform = "softmax"
    elif model._loss == losses.BINARY_CROSS_ENTROPY:
        g.node("Sigmoid", [out], "output")
        transform = "sigmoid"
    elif model._loss == losses.POISSON:
        g.node("Exp", [out], "output")
        transform = "exp"
    else:
        g.node("Identity", [out], "output")
        transform = "none"
    h = onnx.helper
    inputs = [h.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", model.input_dim])]
    outputs = [h.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["batch", model.output_dim])]
    meta = {
        "mlpcore_version": __version__,
        "loss": model._loss or "none",
        "output_transform": transform,
        "layers": json.dumps([{"units": l.units, "activation": l.activation} for l in model.layers]),
    }
    if model._loss == losses.CROSS_ENTROPY:
        meta["classes"] = json.dumps(list(range(model.output_dim)))
    elif model._loss == losses.BINARY_CROSS_ENTROPY:
        meta["classes"] = json.dumps([0, 1])
    doc = "mlpcore Sequential: output = predict(input)"
    return g, inputs, outputs, meta, doc, "mlpcore_sequential"


def _estimator_layers(est):
    from .sklearn import _ACTIVATIONS

    hidden = _ACTIVATIONS[est.activation]
    weights = list(zip(est.coefs_, est.intercepts_))
    acts = [hidden] * (len(weights) - 1) + ["identity"]  # the output function is applied after
    return weights, acts


def _estimator_graph(onnx, est):
    from sklearn.utils.validation import check_is_fitted

    from . import __version__
    from .sklearn import MLPClassifier, MLPRegressor

    if not isinstance(est, (MLPClassifier, MLPRegressor)):
        raise TypeError(f"model: expected a mlpcore Sequential, MLPClassifier or MLPRegressor, got "
                        f"{type(est).__name__}")
    check_is_fitted(est, "coefs_")
    weights, acts = _estimator_layers(est)
    n_in, n_out = weights[0][0].shape[0], weights[-1][0].shape[1]
    g = _Graph(onnx)
    g._names.update({"X", "label", "probabilities", "predictions"})
    logits = _network(g, "X", weights, acts)
    h = onnx.helper
    inputs = [h.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["batch", n_in])]
    layers = [{"units": int(w.shape[1]), "activation": a} for (w, _), a in zip(weights, acts[:-1])]
    meta = {"mlpcore_version": __version__, "estimator": type(est).__name__}
    if isinstance(est, MLPClassifier):
        _classifier_outputs(g, est, logits, "label", "probabilities")
        multilabel = est._y_type == "multilabel-indicator"
        if multilabel:
            label_info = h.make_tensor_value_info("label", onnx.TensorProto.INT64, ["batch", n_out])
        else:
            table = _label_table(np.asarray(est.classes_))
            label_info = h.make_tensor_value_info("label", _label_elem_type(onnx, table), ["batch"])
        n_proba = n_out if (est.out_activation_ == "softmax" or multilabel) else 2
        outputs = [label_info,
                   h.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, ["batch", n_proba])]
        meta["loss"] = "cross_entropy" if est.out_activation_ == "softmax" else "binary_cross_entropy"
        meta["classes"] = json.dumps(np.asarray(est.classes_).tolist())
        layers.append({"units": n_out, "activation": est.out_activation_})
        doc = "mlpcore MLPClassifier: label = predict(X), probabilities = predict_proba(X)"
    else:
        if est.out_activation_ == "exp":  # the Poisson loss's log link
            logits = g.node("Exp", [logits], g.name("means"))
        if n_out == 1:
            g.node("Reshape", [logits, g.const("flat", np.array([-1], np.int64))], "predictions")
            shape = ["batch"]
        else:
            g.node("Identity", [logits], "predictions")
            shape = ["batch", n_out]
        outputs = [h.make_tensor_value_info("predictions", onnx.TensorProto.FLOAT, shape)]
        meta["loss"] = "poisson" if est.out_activation_ == "exp" else "mse"
        layers.append({"units": n_out, "activation": est.out_activation_})
        doc = "mlpcore MLPRegressor: predictions = predict(X)"
    meta["layers"] = json.dumps(layers)
    return g, inputs, outputs, meta, doc, f"mlpcore_{type(est).__name__}"


def to_model(model, opset=DEFAULT_OPSET):
    """The ``onnx.ModelProto`` of ``model`` (a Sequential, or a fitted
    mlpcore.sklearn MLPClassifier / MLPRegressor), checked with onnx.checker."""
    onnx = _import_onnx()
    opset = _check_opset(onnx, opset)
    from . import __version__
    from .models import Sequential

    if isinstance(model, Sequential):
        g, inputs, outputs, meta, doc, name = _sequential_graph(onnx, model)
    else:
        g, inputs, outputs, meta, doc, name = _estimator_graph(onnx, model)
    h = onnx.helper
    graph = h.make_graph(g.nodes, name, inputs, outputs, initializer=g.initializers, doc_string=doc)
    opsets = [h.make_opsetid("", opset)]
    proto = h.make_model(graph, opset_imports=opsets, producer_name="mlpcore", producer_version=__version__,
                         ir_version=h.find_min_ir_version_for(opsets), doc_string=doc)
    h.set_model_props(proto, meta)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model, path, opset=DEFAULT_OPSET):
    """Write ``model`` (a Sequential, or a fitted mlpcore.sklearn estimator) to
    ``path`` (a file name or a binary file object) as ONNX; returns the
    ``onnx.ModelProto``. See the module docstring for names, outputs and metadata."""
    if not (isinstance(path, (str, os.PathLike)) or hasattr(path, "write")):
        raise TypeError(f"path: expected a file name or a binary file object, got {type(path).__name__}")
    proto = to_model(model, opset)
    data = proto.SerializeToString()
    if hasattr(path, "write"):
        path.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return proto


# ---------------------------------------------------------------- skl2onnx

_registered = False


def _skl_shape_calculator(operator):
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    from .sklearn import MLPClassifier

    est = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    n_out = est.coefs_[-1].shape[1]
    if isinstance(est, MLPClassifier):
        multilabel = est._y_type == "multilabel-indicator"
        if multilabel:
            operator.outputs[0].type = Int64TensorType([n, n_out])
        else:
            table = _label_table(np.asarray(est.classes_), integer_labels=True)
            operator.outputs[0].type = (StringTensorType([n]) if table.dtype == object else Int64TensorType([n]))
        n_proba = n_out if (est.out_activation_ == "softmax" or multilabel) else 2
        operator.outputs[1].type = FloatTensorType([n, n_proba])
    else:
        operator.outputs[0].type = FloatTensorType([n, n_out])


def _skl_converter(scope, operator, container):
    from onnx import TensorProto

    from .sklearn import MLPClassifier

    est = operator.raw_operator
    g = _SklGraph(scope, container)
    x = g.node("Cast", [operator.inputs[0].full_name], g.name("input_float"), to=TensorProto.FLOAT)
    weights, acts = _estimator_layers(est)
    logits = _network(g, x, weights, acts)
    if isinstance(est, MLPClassifier):
        _classifier_outputs(g, est, logits, operator.outputs[0].full_name, operator.outputs[1].full_name,
                            integer_labels=True)
    else:
        if est.out_activation_ == "exp":  # the Poisson loss's log link
            logits = g.node("Exp", [logits], g.name("means"))
        g.node("Reshape", [logits, g.const("shape", np.array([-1, weights[-1][0].shape[1]], np.int64))],
               operator.outputs[0].full_name)


def register_skl2onnx() -> None:
    """Register converters for mlpcore.sklearn's MLPClassifier and MLPRegressor
    with skl2onnx, so that ``skl2onnx.to_onnx`` converts pipelines holding them.
    Done automatically once both modules are imported; calling it again is harmless."""
    global _registered
    if _registered:
        return
    from skl2onnx import update_registered_converter

    from .sklearn import MLPClassifier, MLPRegressor

    update_registered_converter(MLPClassifier, "MlpcoreMLPClassifier", _skl_shape_calculator, _skl_converter,
                                options={"zipmap": [True, False, "columns"], "nocl": [True, False],
                                         "output_class_labels": [False, True]})
    update_registered_converter(MLPRegressor, "MlpcoreMLPRegressor", _skl_shape_calculator, _skl_converter)
    _registered = True


class _AfterSkl2onnxImport(importlib.abc.MetaPathFinder):
    """Registers the converters right after skl2onnx is first imported, so that
    importing mlpcore.sklearn never imports skl2onnx (seconds) itself."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "skl2onnx":
            return None
        sys.meta_path.remove(self)  # once: let the other finders find it
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _RegisteringLoader(spec.loader)
        return spec


class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        module.__loader__ = module.__spec__.loader = self._loader
        try:
            register_skl2onnx()
        except Exception as exc:  # an incompatible skl2onnx must not break its own import
            import warnings

            warnings.warn(f"mlpcore: could not register its skl2onnx converters: {exc!r}", RuntimeWarning)

    def __getattr__(self, name):
        return getattr(self._loader, name)


def _register_when_imported() -> None:
    """Called by mlpcore.sklearn: register now if skl2onnx is loaded, else right after it is."""
    if "skl2onnx" in sys.modules:
        register_skl2onnx()
    elif importlib.util.find_spec("skl2onnx") is not None and \
            not any(isinstance(f, _AfterSkl2onnxImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterSkl2onnxImport())


__all__ = ["DEFAULT_OPSET", "export", "register_skl2onnx", "to_model"]
