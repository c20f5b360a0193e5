r"""Inputs :math:`x \sim N(\mu, \Sigma)`: whiten, learn, map the network back.

With :math:`z = W(x - \mu)`, :math:`W = \Sigma^{-1/2}` (symmetric), the inputs are N(0, I)
and every learner applies. A network learned in :math:`z`,

.. math:: g(z) = \sum_i w_i\,\mathrm{relu}(\langle u_i, z\rangle) + \langle c, z\rangle + b,

is in the original coordinates

.. math:: f(x) = \sum_i w_i\,\mathrm{relu}(\langle W u_i, x\rangle - \langle W u_i, \mu\rangle)
          + \langle W c, x\rangle + b - \langle W c, \mu\rangle:

the mean creates a hidden bias :math:`\beta_i = -\langle W u_i, \mu\rangle` per neuron and
shifts the intercept. :math:`\mu` and :math:`\Sigma` are estimated in one pass over all rows,
shifted by the mean :math:`c` of the first rows: the sums :math:`\sum (x - c)` and
:math:`\sum (x - c)(x - c)^T` are mergeable like every moment, and
:math:`\Sigma = \overline{(x - c)(x - c)^T} - (\bar x - c)(\bar x - c)^T` then loses about
:math:`\log_{10}(1 + \|\bar x - c\|^2 / \lambda_{\min}(\Sigma))` digits instead of
:math:`\log_{10}(\|\mu\|^2 / \lambda_{\min}(\Sigma))` for the unshifted
:math:`E[xx^T] - \mu\mu^T` (16 at a mean of 1e8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import moments
from .network import ReLUNetwork
from .sources import MappedSource, Source

__all__ = ["Standardization", "estimate", "to_standard"]

#: Covariances with eigenvalues below this share of the largest are refused as singular (ours).
MIN_EIGENVALUE_RATIO = 1e-10
#: The shift of the covariance pass is the mean of this many first rows (ours).
SHIFT_ROWS = 4096


@dataclass(frozen=True)
class Standardization:
    """The map :math:`x \\mapsto W(x - \\mu)`; ``whitening`` is the symmetric :math:`\\Sigma^{-1/2}`."""

    mean: np.ndarray
    whitening: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) @ self.whitening

    def source(self, source: Source) -> MappedSource:
        """``source`` with its rows standardized as they are read."""
        return MappedSource(source, lambda X, y: (self.transform(X), y))

    def to_original(self, net: ReLUNetwork) -> ReLUNetwork:
        """``net`` learned on standardized inputs, as a function of the original inputs."""
        U = net.directions @ self.whitening
        linear = None if net.linear is None else self.whitening @ net.linear
        intercept = net.intercept - (0.0 if linear is None else float(linear @ self.mean))
        if net.k == 0:
            return ReLUNetwork(np.zeros(0), np.zeros((0, net.d)), linear, intercept)
        biases = (0.0 if net.biases is None else net.biases) - U @ self.mean  # relu(<u, W(x - mu)> + beta)
        return ReLUNetwork(net.weights, U, linear, intercept, biases=biases)


def to_standard(net: ReLUNetwork, mean, whitening) -> ReLUNetwork:
    """Inverse of :meth:`Standardization.to_original`: ``net`` in the coordinates :math:`z = W(x - \\mu)`.

    The result is bias-free (so the exact metrics apply) when ``net`` came from
    ``learn(..., standardize=True)`` with this ``mean`` and ``whitening`` (see its report).
    """
    mean, whitening = np.asarray(mean, dtype=np.float64), np.asarray(whitening, dtype=np.float64)
    root = np.linalg.inv(whitening)  # Sigma^(1/2)
    U = net.directions @ root
    biases = (np.zeros(net.k) if net.biases is None else net.biases) + net.directions @ mean
    scale = np.maximum(np.abs(net.directions) @ np.abs(mean), 1.0)
    linear = None if net.linear is None else root @ net.linear
    intercept = net.intercept + (0.0 if net.linear is None else float(net.linear @ mean))
    exact = bool(np.all(np.abs(biases) <= 1e-9 * scale))
    return ReLUNetwork(net.weights, U, linear, intercept, biases=None if exact or net.k == 0 else biases)


def estimate(source: Source, engine) -> Standardization:
    """Mean and covariance of the inputs from one pass over every row (shifted); the whitening map."""
    shift = source.read(0, min(source.n_rows, SHIFT_ROWS))[0].mean(axis=0)
    spec = moments.MomentSpec(d=source.n_features, n_batches=1)
    shifted = MappedSource(source, lambda X, y: (X - shift, np.zeros_like(y)))  # sums of x - c and (x - c)(x - c)^T
    state = moments.to_numpy(engine.run(shifted, spec)[0])
    n = state.count.sum()
    offset = state.sum_x.sum(axis=0) / n
    covariance = state.gram_x.sum(axis=0) / n - np.outer(offset, offset)
    mean = shift + offset
    values, vectors = np.linalg.eigh((covariance + covariance.T) / 2)
    if values[0] <= MIN_EIGENVALUE_RATIO * max(values[-1], 1e-300):
        raise ValueError(f"{source.name}: the input covariance is singular (smallest/largest eigenvalue "
                         f"{values[0] / max(values[-1], 1e-300):.1e}): some features are constant or collinear; "
                         "drop them before standardize=True")
    return Standardization(mean, (vectors / np.sqrt(values)) @ vectors.T)
