r"""The one model object: a one-hidden-layer ReLU network with an optional linear part.

.. math:: f(x) = \sum_{i=1}^k w_i\,\mathrm{relu}(\langle u_i, x\rangle + \beta_i) + \langle c, x\rangle + b
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
from .hermite import biased_relu_coefficient, relu_coefficient

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
        Hidden biases :math:`\beta_i` (``None``: all zero). Like the weights they are divided by
        the row norms of ``directions``, so that ``relu(<u, x> + beta)`` is unchanged. Every path
        honours them: :meth:`predict`, :meth:`hermite_moments`, :meth:`collapse`, save/load, the
        exports and the exact metrics of :mod:`narrowrelu.metrics`.

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
        r"""The exact Hermite moments of degree <= 2 over x ~ N(0, I), hidden biases included.

        .. math:: T_0 = E f = \sum_i \lambda_i c_0(\beta_i) + b,\quad
                  T_1 = E[f\,x] = \sum_i \lambda_i c_1(\beta_i) u_i + a,\quad
                  T_2 = E[f\,(xx^T - I)] = \sum_i \lambda_i c_2(\beta_i) u_i u_i^T

        for unit :math:`u_i`, linear term :math:`a`, intercept :math:`b` and the biased ReLU
        coefficients :math:`c_\ell(\beta) = \beta\Phi(\beta) + \varphi(\beta), \Phi(\beta), \varphi(\beta)`
        (:func:`narrowrelu.hermite.biased_relu_coefficient`); without biases :math:`c_\ell(0) = c_\ell`
        (:func:`narrowrelu.hermite.relu_coefficient`).
        """
        w, U = self.weights, self.directions
        linear = 0.0 if self.linear is None else self.linear
        if self.biases is None:
            T1 = relu_coefficient(1) * (w @ U) + linear
            return relu_coefficient(0) * float(w.sum()) + self.intercept, T1, relu_coefficient(2) * (U.T * w) @ U
        c0, c1, c2 = (w * biased_relu_coefficient(n, self.biases) for n in range(3))
        return float(c0.sum()) + self.intercept, c1 @ U + linear, (U.T * c2) @ U

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

    def augmented(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Each neuron as :math:`w'\,\mathrm{relu}(\langle a, (x, 1)\rangle)`, a unit :math:`a \in \mathbb R^{d+1}`.

        Returns the weights :math:`w' = w\sqrt{1 + \beta^2}` (k,) and the unit rows
        :math:`a = (u, \beta)/\sqrt{1 + \beta^2}` (k, d + 1): the scale-free form in which two
        neurons are the same function exactly when their rows agree.
        """
        beta = np.zeros(self.k) if self.biases is None else self.biases
        rows = np.hstack([self.directions, beta[:, None]])
        norms = np.linalg.norm(rows, axis=1)
        return self.weights * norms, rows / norms[:, None]

    def collapse(self, tol: float) -> ReLUNetwork:
        r"""Merge neurons whose (direction, bias) pairs are closer than the angle ``tol`` (radians).

        Neurons are compared as unit rows :math:`a_i = (u_i, \beta_i)/|(u_i, \beta_i)|` on the
        augmented input :math:`(x, 1)` (:meth:`augmented`; :math:`a_i = (u_i, 0)` without biases)
        and grouped by single linkage (connected components of the graph "angle < tol"); a group
        becomes one neuron with the summed (augmented) weight and the row :math:`\sum |w_i| a_i`
        normalised. By the collapse lemma (docs/maths.md §2) the L2 cost is about
        :math:`|w|\,\eta/\sqrt 2` per merged neuron at spread :math:`\eta`. Groups whose weights
        cancel exactly are dropped.
        """
        if not np.isfinite(tol) or tol < 0:
            raise ValueError(f"tol must be a non-negative angle in radians, got {tol}")
        if self.k == 0:
            return self._replace(self.weights, self.directions, self.biases)
        # Without biases the augmented rows are (u, 0): the directions themselves.
        weights, rows = (self.weights, self.directions) if self.biases is None else self.augmented()
        close = angles_between(rows, rows) < tol
        n_groups, labels = connected_components(close, directed=False)
        merged = np.bincount(labels, weights=weights, minlength=n_groups)
        summed = np.zeros((n_groups, rows.shape[1]))
        np.add.at(summed, labels, np.abs(weights)[:, None] * rows)
        summed /= np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-300)
        keep = (merged != 0.0) & (np.linalg.norm(summed[:, : self.d], axis=1) > 0.0)
        biases = None if self.biases is None else summed[keep, self.d]
        return self._replace(merged[keep], summed[keep, : self.d], biases)

    def _replace(self, weights, directions, biases) -> ReLUNetwork:
        linear = None if self.linear is None else self.linear.copy()
        return ReLUNetwork(weights, directions, linear, self.intercept, biases)

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

            net.report = Report.from_dict(data["report"])
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
        try:
            return cls.from_dict(data)
        except ValueError as exc:  # name the file: "model file 'm.json': biases contains NaN ..."
            raise ValueError(f"model file {str(path)!r}: {exc}") from None

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
