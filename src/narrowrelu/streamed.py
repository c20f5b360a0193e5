r"""Stage D beyond the kept rows: Gauss-Newton steps over every training row, one pass a step.

The fit and the polish see the rows kept in memory (:class:`~narrowrelu.pipeline.Memory`); a
larger source has more training rows than that. The streamed polish finishes the network on
all of them. Write its parameters as one vector

.. math:: \theta = (\lambda_1..\lambda_k,\ c,\ b,\ u_1..u_k,\ \beta_1..\beta_k)

(the linear term :math:`c \in R^d` only when the network has one, the biases :math:`\beta` only
when it has them) for :math:`f_\theta(x) = \sum_i \lambda_i \mathrm{relu}(z_i) + \langle c, x\rangle
+ b`, :math:`z_i = \langle u_i, x\rangle + \beta_i`. A row's Jacobian is

.. math:: J(x) = \big(\mathrm{relu}(z_i),\ x,\ 1,\ \lambda_i 1[z_i > 0]\, x,\ \lambda_i 1[z_i > 0]\big)

and one pass of :meth:`~narrowrelu.engines.Engine.reduce` sums, over the training rows,
:math:`J^T J` (p x p), :math:`J^T r` and :math:`r^T r` for the residual :math:`r = y - f_\theta(x)`:
sums, so they merge over chunks exactly like the moment sums and run on every engine. The
Levenberg-Marquardt step solves

.. math:: (J^T J + \mu\, \mathrm{diag}(J^T J))\,\delta = J^T r

(:func:`step`). The loss does not change along :math:`(\lambda_i, u_i, \beta_i) \to
(\lambda_i / s, s u_i, s \beta_i)`: that null direction of :math:`J^T J` is orthogonal to
:math:`J^T r` and the damping fixes the step's component in it; after the step every
:math:`u_i` is scaled back to unit length (the function unchanged).

:func:`streamed_polish` (``auto``'s last stage) keeps a step only when it lowers the held-out
loss (:func:`~narrowrelu.selection.keep_best`): up to ``DAMPING_TRIES`` damping values per
pass, then it stops; at most ``streamed_passes`` passes. :func:`least_squares` is the same step
accepted on the training loss (one pass per trial): the benchmark's oracle started at the truth
(docs/evaluation.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .engines import Engine, RowPlan
from .network import ReLUNetwork
from .pipeline import Data, Memory
from .report import Report
from .selection import Candidate, evaluate, keep_best
from .sources import Source

__all__ = ["Layout", "NormalEquations", "Sums", "normal_sums", "step", "streamed_polish", "least_squares",
           "MAX_PARAMETERS", "DAMPING", "DAMPING_TRIES"]

#: Networks with more parameters than this are not polished beyond the kept rows: the system
#: takes p^2 floats per chunk in flight and p^3 flops to solve (ours).
MAX_PARAMETERS = 2_000
#: The first Marquardt damping, relative to diag(J^T J); after an accepted step it shrinks by
#: ``DAMPING_FACTOR`` (not below this), after a rejected one it grows by it (ours).
DAMPING, DAMPING_FACTOR = 1e-6, 10.0
#: Damping values tried per pass before the streamed polish stops (held-out loss not lower; ours).
DAMPING_TRIES = 3


@dataclass(frozen=True)
class Layout:
    """Where each parameter of a network sits in :math:`\\theta` (the module docstring's order)."""

    k: int
    d: int
    linear: bool
    biases: bool

    @classmethod
    def of(cls, net: ReLUNetwork) -> Layout:
        return cls(net.k, net.d, net.linear is not None, net.biases is not None)

    @property
    def size(self) -> int:
        """p, the number of parameters."""
        return self.k + self.d * self.linear + 1 + self.k * self.d + self.k * self.biases

    def vector(self, net: ReLUNetwork) -> np.ndarray:
        parts = [net.weights, net.linear if self.linear else [], [net.intercept], net.directions.ravel(),
                 net.biases if self.biases else []]
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])

    def parts(self, theta: np.ndarray):
        """``(weights, linear or None, intercept, directions, biases or None)`` of ``theta`` (views)."""
        k, d = self.k, self.d
        c = k + d * self.linear
        U = theta[c + 1:c + 1 + k * d].reshape(k, d)
        return (theta[:k], theta[k:c] if self.linear else None, theta[c], U,
                theta[c + 1 + k * d:] if self.biases else None)

    def network(self, theta: np.ndarray) -> ReLUNetwork | None:
        r"""The network of ``theta``, each :math:`u_i` scaled to unit length (:math:`\lambda_i, \beta_i`
        with it, the function unchanged); None when a direction vanished."""
        weights, linear, intercept, U, biases = self.parts(theta)
        norms = np.linalg.norm(U, axis=1)
        if not np.all(norms > 0) or not np.all(np.isfinite(theta)):
            return None
        return ReLUNetwork(weights * norms, U / norms[:, None], None if linear is None else linear.copy(),
                           float(intercept), biases=None if biases is None else biases / norms)

    def row_bytes(self) -> int:
        """Bytes of temporaries per row of a chunk: the rows read and their copy, z, and J."""
        return 8 * (2 * (self.d + 1) + 2 * self.k + self.size)


@dataclass(frozen=True)
class NormalEquations:
    """The chunk function of one pass (picklable, for Dask): ``(J^T J, J^T r, [r^T r, rows])``."""

    layout: Layout
    theta: np.ndarray

    def __call__(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        J, r = jacobian(self.layout, self.theta, X, y)
        return J.T @ J, J.T @ r, np.array([r @ r, len(r)], dtype=np.float64)


def jacobian(layout: Layout, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows' Jacobian J (m, p) of :math:`f_\\theta` (the module docstring's columns) and the residual ``y - f``."""
    weights, linear, intercept, U, biases = layout.parts(theta)
    k, d, m = layout.k, layout.d, len(y)
    Z = X @ U.T
    if biases is not None:
        Z += biases
    J = np.empty((m, layout.size))
    active = Z > 0.0
    np.maximum(Z, 0.0, out=J[:, :k])
    c = k + d * layout.linear
    if linear is not None:
        J[:, k:c] = X
    J[:, c] = 1.0
    slope = active * weights
    np.multiply(slope[:, :, None], X[:, None, :], out=J[:, c + 1:c + 1 + k * d].reshape(m, k, d))
    if biases is not None:
        J[:, c + 1 + k * d:] = slope
    f = J[:, :k] @ weights + intercept + (0.0 if linear is None else X @ linear)
    return J, y - f


@dataclass(frozen=True)
class Sums:
    r""":math:`J^T J`, :math:`J^T r`, :math:`r^T r` and the rows, summed over the training rows at ``theta``."""

    theta: np.ndarray
    gram: np.ndarray
    gradient: np.ndarray
    sse: float
    rows: int

    @property
    def mse(self) -> float:
        return self.sse / max(self.rows, 1)


def normal_sums(engine: Engine, source: Source, plan: RowPlan | None, layout: Layout, theta: np.ndarray,
                memory: Memory | None = None) -> Sums:
    """One pass of the engine over the training rows of ``source``: the Gauss-Newton sums at ``theta``."""
    gram, gradient, (sse, rows) = engine.reduce(source, plan, NormalEquations(layout, theta), layout.row_bytes(),
                                                memory)
    return Sums(theta, gram, gradient, float(sse), int(rows))


def step(sums: Sums, damping: float) -> np.ndarray:
    r"""The Levenberg-Marquardt step from ``sums.theta``: :math:`\theta + (J^TJ + \mu\,\mathrm{diag})^{-1} J^T r`.

    The diagonal is floored at :math:`10^{-12}` of its largest entry (a dead unit's columns vanish).
    """
    diag = np.diag(sums.gram)
    scale = np.maximum(diag, 1e-12 * max(float(np.max(diag)), 1e-300))
    try:
        delta = scipy.linalg.solve(sums.gram + damping * np.diag(scale), sums.gradient, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        delta = np.linalg.lstsq(sums.gram + damping * np.diag(scale), sums.gradient, rcond=None)[0]
    return sums.theta + delta


def streamed_polish(data: Data, best: Candidate, passes: int, report: Report) -> Candidate:
    """``best`` polished on every training row of ``data`` (when there are more than were kept).

    Each pass takes the Gauss-Newton sums at the current network over all training rows; its
    step is kept only if it lowers the held-out loss (:func:`~narrowrelu.selection.keep_best`),
    else the damping grows and the step is tried again, ``DAMPING_TRIES`` times in all; then the
    polish stops. At most ``passes`` passes (0: none). The stage ``streamed polish`` of the
    report records the passes, the steps kept, the parameters, the training rows, the training
    loss where the last pass started (``train_mse``) and the held-out loss before and after.
    """
    if not passes or data.n_train <= len(data.y) or best.network.k == 0:
        return best
    start, layout = time.perf_counter(), Layout.of(best.network)
    if layout.size > MAX_PARAMETERS:
        report.add("streamed polish", 0.0, passes=0, parameters=layout.size, skipped="too many parameters")
        return best
    theta, damping, done, kept, first_loss, sums = layout.vector(best.network), DAMPING, 0, 0, best.loss, None
    while done < passes:
        sums = normal_sums(data.engine, data.source, data.plan, layout, theta, data.memory)
        done += 1
        report.passes += 1
        for _ in range(DAMPING_TRIES):
            net = layout.network(step(sums, damping))
            trial = evaluate(net, data, best.origin + ", streamed polish") if net is not None else None
            if keep_best(best, trial) is not best:
                break
            damping *= DAMPING_FACTOR
        else:
            break
        best, theta, kept = trial, layout.vector(trial.network), kept + 1
        damping = max(damping / DAMPING_FACTOR, DAMPING)
    report.add("streamed polish", time.perf_counter() - start, passes=done, steps=kept, parameters=layout.size,
               rows=sums.rows, train_mse=sums.mse, validation_mse_before=first_loss, validation_mse=best.loss)
    return best


def least_squares(net: ReLUNetwork, engine: Engine, source: Source, plan: RowPlan | None, passes: int,
                  memory: Memory | None = None, rtol: float = 1e-10) -> tuple[ReLUNetwork, int]:
    """The same steps accepted on the training loss over all training rows: the least-squares fit near ``net``.

    A trial costs one pass (its sums are those of the next step when it is kept); stops when a
    kept step lowers the loss by less than ``rtol`` of it, after ``DAMPING_TRIES`` trials in a
    row that do not lower it, or after ``passes`` passes. Returns the network and the passes run.
    """
    layout = Layout.of(net)
    sums = normal_sums(engine, source, plan, layout, layout.vector(net), memory)
    done, damping, rejected = 1, DAMPING, 0
    while done < passes and rejected < DAMPING_TRIES:
        trial = layout.network(step(sums, damping))
        if trial is None:
            break
        trial_sums = normal_sums(engine, source, plan, layout, layout.vector(trial), memory)
        done += 1
        if trial_sums.sse >= sums.sse:
            damping, rejected = damping * DAMPING_FACTOR, rejected + 1
            continue
        gain, sums, damping, rejected = sums.sse - trial_sums.sse, trial_sums, max(damping / DAMPING_FACTOR,
                                                                                   DAMPING), 0
        if gain <= rtol * sums.sse:
            break
    return layout.network(sums.theta), done
