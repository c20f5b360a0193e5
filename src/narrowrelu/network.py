r"""The one model object: a one-hidden-layer ReLU network with an optional linear part.

.. math:: f(x) = \sum_{i=1}^k w_i\,\mathrm{relu}(\langle u_i, x\rangle) + \langle c, x\rangle + b
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse.csgraph import connected_components

from ._arrays import is_device_array, like, namespace
from ._validation import check_finite_array
from .hermite import relu_coefficient

__all__ = ["ReLUNetwork", "angles_between"]

FORMAT_NAME = "narrowrelu.ReLUNetwork"
FORMAT_VERSION = 2  # 2: optional hidden biases


def angles_between(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    r"""Angles between the rows of ``A`` (p, d) and ``B`` (q, d), accurate near 0 and π.

    Uses :math:`\theta = 2\arctan(|\hat a - \hat b| / |\hat a + \hat b|)` on unit vectors, which
    keeps full relative precision for tiny angles (``arccos`` loses half the digits there).
    """
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    gram = np.clip(A @ B.T, -1.0, 1.0)
    # |a - b|^2 = 2 - 2 cos and |a + b|^2 = 2 + 2 cos, computed without cancellation.
    diff = np.linalg.norm(A[:, None, :] - B[None, :, :], axis=2)
    summ = np.linalg.norm(A[:, None, :] + B[None, :, :], axis=2)
    theta = 2.0 * np.arctan2(diff, summ)
    return np.where(np.isfinite(theta), theta, np.arccos(gram))


class ReLUNetwork:
    r"""A width-k ReLU network :math:`f(x) = \sum_i w_i \mathrm{relu}(\langle u_i, x\rangle + \beta_i) + c^Tx + b`.

    Parameters
    ----------
    weights : array_like of shape (k,)
        Output weights :math:`w_i`, of any sign.
    directions : array_like of shape (k, d)
        Hidden directions :math:`u_i`. They need not be unit: since
        :math:`\mathrm{relu}(a t) = a\,\mathrm{relu}(t)` for :math:`a > 0`, each row is
        normalised and its norm folded into its weight.
    linear : array_like of shape (d,) or None, default=None
        Linear term :math:`c` (``None`` means zero).
    intercept : float, default=0.0
        Constant :math:`b`.
    biases : array_like of shape (k,) or None, default=None
        Hidden biases :math:`\beta_i` (``None``: all zero, the form every learner fits on
        N(0, I) inputs). They arise when a network learned on standardized inputs is mapped
        back to the original coordinates (``learn(..., standardize=True)``); the exact
        population metrics accept bias-free networks only.

    Attributes
    ----------
    weights : ndarray of shape (k,)
    directions : ndarray of shape (k, d), unit rows
    linear : ndarray of shape (d,) or None
    intercept : float
    biases : ndarray of shape (k,) or None
    k, d : int
    report : object or None
        What the learner did, set by :func:`narrowrelu.learn`.

    Examples
    --------
    >>> net = ReLUNetwork([1.0, -2.0], [[3.0, 0.0], [0.0, 1.0]])
    >>> net.weights.tolist(), net.predict([[1.0, 1.0]]).tolist()
    ([3.0, -2.0], [1.0])
    """

    def __init__(self, weights, directions, linear=None, intercept: float = 0.0, biases=None):
        weights = check_finite_array(weights, "weights", 1)
        directions = check_finite_array(directions, "directions", 2)
        if directions.shape[0] != weights.shape[0]:
            raise ValueError(
                f"weights has {weights.shape[0]} entries but directions has "
                f"{directions.shape[0]} rows: one weight per direction is expected"
            )
        if directions.shape[1] < 1:
            raise ValueError("directions must have at least one column (d >= 1)")
        norms = np.linalg.norm(directions, axis=1)
        if np.any(norms == 0.0):
            raise ValueError(
                f"directions row {int(np.argmin(norms))} is zero; every direction must be non-zero"
            )
        d = directions.shape[1]
        if linear is not None:
            linear = check_finite_array(linear, "linear", 1)
            if linear.shape[0] != d:
                raise ValueError(f"linear must have length d={d}, got {linear.shape[0]}")
        if not isinstance(intercept, numbers.Real) or not np.isfinite(intercept):
            raise ValueError(f"intercept must be a finite real number, got {intercept!r}")
        if biases is not None:
            biases = check_finite_array(biases, "biases", 1)
            if biases.shape[0] != weights.shape[0]:
                raise ValueError(f"biases has {biases.shape[0]} entries; one per neuron "
                                 f"({weights.shape[0]}) is expected")
            biases = biases / norms
        self.weights = weights * norms
        self.directions = directions / norms[:, None]
        self.biases = biases
        self.linear = linear
        self.intercept = float(intercept)
        self.report = None

    @property
    def k(self) -> int:
        """Number of hidden neurons."""
        return self.weights.shape[0]

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.directions.shape[1]

    @classmethod
    def zero(cls, d: int) -> ReLUNetwork:
        """The zero function on R^d (k = 0)."""
        return cls(np.zeros(0), np.zeros((0, d)))

    def hermite_moments(self) -> tuple[float, np.ndarray, np.ndarray]:
        r"""The exact Hermite moments of degree <= 2 over x ~ N(0, I).

        .. math:: T_0 = E f = c_0 \sum_i \lambda_i + b,\quad
                  T_1 = E[f\,x] = c_1 \sum_i \lambda_i u_i + a,\quad
                  T_2 = E[f\,(xx^T - I)] = c_2 \sum_i \lambda_i u_i u_i^T

        for unit :math:`u_i`, linear term :math:`a`, intercept :math:`b` and the ReLU
        coefficients :math:`c_\ell` (:func:`narrowrelu.hermite.relu_coefficient`).
        """
        if self.biases is not None:
            raise ValueError("hermite_moments needs a network without hidden biases (x ~ N(0, I) coordinates); "
                             "map it back with narrowrelu.standardize.to_standard first")
        w, U = self.weights, self.directions
        T1 = relu_coefficient(1) * (w @ U) + (0.0 if self.linear is None else self.linear)
        T2 = relu_coefficient(2) * (U.T * w) @ U
        return relu_coefficient(0) * float(w.sum()) + self.intercept, T1, T2

    def predict(self, X) -> np.ndarray:
        """Evaluate the network on the rows of ``X`` (n, d); returns shape (n,).

        A torch tensor (any array-API array) is evaluated in its own namespace and device.
        """
        if is_device_array(X):
            hidden = X @ like(self.directions, X).T + (0.0 if self.biases is None else like(self.biases, X))
            out = namespace(X).where(hidden > 0, hidden, 0 * hidden) @ like(self.weights, X) + self.intercept
            return out if self.linear is None else out + X @ like(self.linear, X)
        X = check_finite_array(X, "X", 2)
        if X.shape[1] != self.d:
            raise ValueError(f"X must have {self.d} columns (features), got {X.shape[1]}")
        hidden = X @ self.directions.T + (0.0 if self.biases is None else self.biases)
        out = np.maximum(hidden, 0.0) @ self.weights + self.intercept
        if self.linear is not None:
            out += X @ self.linear
        return out

    def collapse(self, tol: float) -> ReLUNetwork:
        r"""Merge neurons whose directions are closer than the angle ``tol`` (radians).

        Neurons are grouped by single linkage (connected components of the graph
        "angle < tol"); a group becomes one neuron with the summed weight and the direction
        :math:`\sum |w_i| u_i` normalised. By the collapse lemma (docs/maths.md §2) the L2 cost is
        about :math:`|w|\,\eta/\sqrt 2` per merged neuron at spread :math:`\eta`. Groups whose
        weights cancel exactly are dropped.
        """
        if not np.isfinite(tol) or tol < 0:
            raise ValueError(f"tol must be a non-negative angle in radians, got {tol}")
        if self.biases is not None:
            raise ValueError("collapse needs bias-free neurons; collapse the network in standardized coordinates")
        if self.k == 0:
            return self._replace(self.weights, self.directions)
        close = angles_between(self.directions, self.directions) < tol
        n_groups, labels = connected_components(close, directed=False)
        weights = np.bincount(labels, weights=self.weights, minlength=n_groups)
        directions = np.zeros((n_groups, self.d))
        np.add.at(directions, labels, np.abs(self.weights)[:, None] * self.directions)
        norms = np.linalg.norm(directions, axis=1)
        keep = (weights != 0.0) & (norms > 0.0)
        return self._replace(weights[keep], directions[keep] / norms[keep, None])

    def _replace(self, weights, directions) -> ReLUNetwork:
        linear = None if self.linear is None else self.linear.copy()
        return ReLUNetwork(weights, directions, linear, self.intercept)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict with a format name and version (and the learner's report, if any)."""
        extra = {} if self.report is None else {"report": self.report.to_dict()}
        return extra | {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "k": self.k,
            "d": self.d,
            "weights": self.weights.tolist(),
            "directions": self.directions.tolist(),
            "linear": None if self.linear is None else self.linear.tolist(),
            "intercept": self.intercept,
        } | ({} if self.biases is None else {"biases": self.biases.tolist()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReLUNetwork:
        """Inverse of :meth:`to_dict`; rejects other formats and newer versions."""
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ValueError(f"not a narrowrelu network: expected a dict with format {FORMAT_NAME!r}")
        version = data.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(
                f"network format version {version!r} is not supported (this narrowrelu reads "
                f"versions <= {FORMAT_VERSION}); upgrade narrowrelu"
            )
        missing = [key for key in ("weights", "directions", "d") if key not in data]
        if missing:
            raise ValueError(f"network dict is missing {', '.join(missing)}")
        directions = np.asarray(data["directions"], dtype=np.float64).reshape(-1, int(data["d"]))
        net = cls(data["weights"], directions, data.get("linear"), data.get("intercept", 0.0), data.get("biases"))
        if isinstance(data.get("report"), dict):
            from .report import Report

            net.report = Report(**data["report"])
        return net

    def save(self, path) -> None:
        """Write the network as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path) -> ReLUNetwork:
        """Read a network written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"model file {str(path)!r} does not exist")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"model file {str(path)!r} is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def to_torch(self, dtype=None):
        """A ``torch.nn.Module`` with identical predictions (see :mod:`narrowrelu.export`)."""
        from .export import to_torch

        return to_torch(self, dtype)

    def to_onnx(self, path, dtype=np.float64):
        """Write an ONNX model with identical predictions to ``path`` (see :mod:`narrowrelu.export`)."""
        from .export import to_onnx

        return to_onnx(self, path, dtype)

    def __repr__(self) -> str:
        extra = ("" if self.linear is None else ", linear=...") + ("" if self.biases is None else ", biases=...")
        return f"ReLUNetwork(k={self.k}, d={self.d}{extra}, intercept={self.intercept:.4g})"
