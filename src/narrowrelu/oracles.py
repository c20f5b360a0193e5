"""Oracles: a model one can call, as a batched float64 numpy function with a picklable spec.

:func:`as_oracle` accepts

==============================  ==============================================================
a numpy callable                ``f(X) -> y`` on arrays (m, d); ``d`` must be given; float32
                                when its answer to a first query is float32
``"module:function"``           an importable numpy callable, e.g. ``"mypkg.teacher:forward"``
a ``torch.nn.Module``           evaluated without gradients on its parameters' device, by default
                                as a float64 copy (below); ``d`` from its first weight matrix
an ONNX file (``*.onnx``)       run with onnxruntime; ``d`` and the dtype from its input (a float32
                                graph of MatMul/Add/Relu-type operators as a float64 copy, below)
==============================  ==============================================================

An :class:`Oracle` rounds the query points to the model's input dtype, calls it in batches of
at most ``batch_rows`` rows, checks the answer (shape (m,) or (m, 1), finite) and counts the
queries. It pickles as its spec (the path, the ``"module:function"`` name, the module or the
callable itself), so a Dask worker rebuilds it where it runs.

Precision. A torch module whose parameters are float32 (torch's default) computes the function
defined by those float32 weights; a float64 copy of it (``copy.deepcopy(module).double()``; the
caller's module is never modified) computes the same function with float64 rounding, so the
queries are exact to ~1e-16 instead of ~1e-7. ``precision="float64"`` (the default) queries that
copy; ``precision="model"`` queries the module in its own dtype. Where the copy cannot be made or
run in float64 (a device without float64, a forward that casts to float32 itself), the module is
queried in its own dtype and :attr:`Oracle.note` says why. A float32 ONNX file whose graph has
only MatMul, Gemm, Add, Sub, Mul, Relu and shape operators is queried the same way, through a
float64 copy made in memory with onnx (the file is not modified); other graphs in float32, with a
note. Numpy callables are always queried in their own dtype (nothing to cast). ``Oracle.dtype``
is the dtype queried and ``Oracle.model_dtype`` the model's.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import re
import sys
from pathlib import Path

import numpy as np

__all__ = ["Oracle", "as_oracle", "is_oracle", "PRECISIONS"]

#: Rows per call to the model (ours).
BATCH_ROWS = 65536
#: How a model is queried: ``"float64"`` (a float64 copy of a torch module where one can be made) or
#: ``"model"`` (its own dtype).
PRECISIONS = ("float64", "model")
_NAME = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_oracle(f) -> bool:
    """True for what :func:`as_oracle` takes: a callable, an ``.onnx`` path or a ``"module:function"`` name."""
    if isinstance(f, str | Path):
        return Path(f).suffix.lower() == ".onnx" or (isinstance(f, str) and bool(_NAME.match(f)))
    return callable(f)


class Oracle:
    """A model as a function ``(m, d) float64 -> (m,) float64``.

    Attributes
    ----------
    d : int
        Input dimension.
    dtype : numpy dtype
        The dtype queried (float64 or float32): queries are rounded to it.
    model_dtype : numpy dtype
        The model's own dtype (differs from ``dtype`` for a float32 torch module queried in float64).
    precision : str
        One of ``PRECISIONS``, as asked.
    note : str or None
        Why a float64 query was asked for and not possible (None otherwise).
    spec : object
        What the oracle was built from (picklable where the model is).
    name : str
    queries : int
        Rows evaluated so far (in this process).
    """

    def __init__(self, call, d: int, dtype, spec, name: str, batch_rows: int = BATCH_ROWS):
        self._call, self.d, self.dtype, self.spec, self.name = call, int(d), np.dtype(dtype), spec, name
        self.batch_rows, self.queries = batch_rows, 0
        self.model_dtype, self.precision, self.note = self.dtype, "float64", None

    def __call__(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.d:
            raise ValueError(f"{self.name}: queries must have shape (m, {self.d}), got {X.shape}")
        parts = []
        for start in range(0, len(X), self.batch_rows):
            block = np.ascontiguousarray(X[start:start + self.batch_rows], dtype=self.dtype)
            parts.append(self._answer(self._call(block), len(block)))
        self.queries += len(X)
        return np.concatenate(parts) if parts else np.zeros(0)

    def _answer(self, y, m: int) -> np.ndarray:
        if hasattr(y, "detach"):  # a torch tensor
            y = y.detach().cpu().numpy()
        y = np.asarray(y, dtype=np.float64)
        if y.shape not in ((m,), (m, 1)):
            raise ValueError(f"{self.name}: answered shape {y.shape} for {m} queries; a model with one output "
                             f"returns shape ({m},) or ({m}, 1)")
        y = y.reshape(m)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self.name}: answered a non-finite value (nan or inf) at a query")
        return y

    def __reduce__(self):
        return (as_oracle, (self.spec, self.d, self.batch_rows, self.precision))

    def __repr__(self) -> str:
        return f"Oracle({self.name!r}, d={self.d}, dtype={self.dtype})"


def as_oracle(f, d: int | None = None, batch_rows: int = BATCH_ROWS, precision: str = "float64") -> Oracle:
    """An :class:`Oracle` for a numpy callable, ``"module:function"``, a torch module or an ONNX path.

    ``precision``: ``"float64"`` (default) queries a float32 torch module through a float64 copy,
    ``"model"`` in its own dtype (see the module docstring); other models are queried in their dtype.

    Examples
    --------
    >>> import numpy as np
    >>> oracle = as_oracle(lambda X: X.sum(axis=1), d=3)
    >>> oracle(np.ones((2, 3))).tolist(), oracle.queries  # one first query tells the answer's dtype
    ([3.0, 3.0], 3)
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if isinstance(f, Oracle):
        return f
    if isinstance(f, str | Path) and Path(f).suffix.lower() == ".onnx":
        return _onnx(Path(f), d, batch_rows, precision)
    if isinstance(f, str):
        if not _NAME.match(f):
            raise ValueError(f"{f!r} is neither an .onnx file nor an importable 'module:function' name")
        module, _, attr = f.partition(":")
        try:
            target = importlib.import_module(module)
            for part in attr.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot import {f!r} ({exc}); give an importable 'module:function'") from None
        oracle = as_oracle(target, d, batch_rows, precision)
        oracle.spec, oracle.name = f, f
        return oracle
    if type(f).__module__.startswith("torch") or _is_torch_module(f):
        return _torch(f, d, batch_rows, precision)
    if not callable(f):
        raise ValueError(f"expected a callable, a torch module, an .onnx path or 'module:function', "
                         f"got {type(f).__name__}")
    if d is None:
        raise ValueError("d is required for a Python callable: the number of input features")
    name = getattr(f, "__qualname__", type(f).__name__)
    module = getattr(f, "__module__", None)
    importable = module and module != "__main__" and "<" not in name and not inspect.ismethod(f)
    spec = f"{module}:{name}" if importable else f  # a bound method travels as itself (with its object)
    oracle = Oracle(f, _check_d(d), np.float64, spec, name, batch_rows)
    if getattr(f(np.zeros((1, oracle.d))), "dtype", None) == np.float32:  # a float32 model: its precision
        oracle.dtype = np.dtype(np.float32)
    oracle.queries = 1
    oracle.model_dtype, oracle.precision = oracle.dtype, precision
    return oracle


def _check_d(d) -> int:
    from ._validation import check_positive_int

    return check_positive_int(d, "d")


def _is_torch_module(f) -> bool:
    torch = sys.modules.get("torch")  # a torch module exists only once torch is imported
    return torch is not None and isinstance(f, torch.nn.Module)


def _torch(module, d, batch_rows: int, precision: str) -> Oracle:
    import torch

    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(module).__name__}")
    params = list(module.parameters())
    first = next((p for p in params if p.ndim == 2), None)
    if d is None:
        if first is None:
            raise ValueError("cannot infer d from a torch module without weight matrices: give d")
        d = first.shape[1]
    d = _check_d(d)
    dtype = params[0].dtype if params else torch.float64
    device = params[0].device if params else torch.device("cpu")
    numpy_dtype = {torch.float64: np.float64, torch.float32: np.float32}.get(dtype, np.float32)

    def caller(model, torch_dtype):
        def call(X):
            with torch.no_grad():
                return model(torch.from_numpy(X).to(device=device, dtype=torch_dtype))
        return call

    call, queried, note, tried = caller(module, dtype), numpy_dtype, None, 0
    if precision == "float64" and dtype != torch.float64:
        tried = 1  # one query of the copy, counted
        try:  # the same function with float64 rounding; the caller's module is left as it is
            double = copy.deepcopy(module).double()
            answer = caller(double, torch.float64)(np.zeros((1, d)))
            if answer.dtype != torch.float64:
                raise TypeError(f"its forward answered {answer.dtype} to float64 queries")
            call, queried = caller(double, torch.float64), np.float64
        except Exception as exc:  # torch raises many types here (no float64 on the device, a cast in forward)
            note = (f"queried in the module's own {dtype} (a float64 copy could not be evaluated: "
                    f"{type(exc).__name__}: {exc})")
    oracle = Oracle(call, d, queried, module, type(module).__name__, batch_rows)
    oracle.model_dtype, oracle.precision, oracle.note = np.dtype(numpy_dtype), precision, note
    oracle.queries = tried
    return oracle


def _onnx(path: Path, d, batch_rows: int, precision: str) -> Oracle:
    if not path.is_file():
        raise ValueError(f"{path}: no such ONNX file")
    try:
        import onnxruntime
    except ImportError:
        raise ImportError('querying an ONNX model needs onnxruntime: pip install "narrowrelu[onnx]"') from None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ValueError(f"{path}: not a loadable ONNX model ({exc})") from None
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 2:
        raise ValueError(f"{path}: expected one input of shape (n, d), got "
                         f"{[(i.name, i.shape) for i in inputs]}")
    width = inputs[0].shape[1]
    if d is None:
        if not isinstance(width, int):
            raise ValueError(f"{path}: the input's width is symbolic ({width}); give d")
        d = width
    dtype = {"tensor(double)": np.float64, "tensor(float)": np.float32}.get(inputs[0].type)
    if dtype is None:
        raise ValueError(f"{path}: input type {inputs[0].type} is not float or double")
    name, queried, note = inputs[0].name, dtype, None
    if precision == "float64" and dtype == np.float32:
        try:
            session = onnxruntime.InferenceSession(_onnx_double(path), providers=["CPUExecutionProvider"])
            queried = np.float64
        except Exception as exc:  # onnx and onnxruntime raise their own exception types
            note = f"queried in the model's own float32 (no float64 copy: {type(exc).__name__}: {exc})"
    oracle = Oracle(lambda X: session.run(None, {name: X})[0], _check_d(d), queried, str(path), str(path), batch_rows)
    oracle.model_dtype, oracle.precision, oracle.note = np.dtype(dtype), precision, note
    return oracle


#: ONNX operators whose float64 copy computes the same function as the float32 model from the same weights
#: (no constants inside attributes, no casts) (ours).
_ONNX_DOUBLE_OPS = frozenset({"MatMul", "Gemm", "Add", "Sub", "Mul", "Relu", "Identity", "Reshape", "Flatten",
                              "Squeeze", "Unsqueeze"})


def _onnx_double(path: Path) -> bytes:
    """The float32 ONNX model at ``path`` with every float tensor (initializers, inputs, outputs) in float64,
    serialized; a ValueError where the graph holds an operator outside ``_ONNX_DOUBLE_OPS``."""
    import onnx
    from onnx import TensorProto, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    other = sorted({node.op_type for node in graph.node} - _ONNX_DOUBLE_OPS)
    if other or any(node.domain not in ("", "ai.onnx") for node in graph.node):
        raise ValueError(f"operators {other} are not cast to float64 (only {sorted(_ONNX_DOUBLE_OPS)})")
    for i, tensor in enumerate(graph.initializer):
        if tensor.data_type == TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(tensor).astype(np.float64), tensor.name))
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.DOUBLE
    onnx.checker.check_model(model)
    return model.SerializeToString()
