"""The stages every method shares: split, moment passes, fit inside a subspace, finish.

Data flows one way: source -> moments -> subspace -> neurons -> polish -> network. A method
(:mod:`narrowrelu.methods`) decides which moments to take and how to grow the subspace; it
calls these functions for everything else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import moments
from .network import ReLUNetwork
from .neurons import candidate_pool, greedy_select
from .polish import output_layer, refine, resolve_signs, to_network
from .report import Report

__all__ = ["Data", "split", "moment_pass", "fit_in_subspace", "finish"]

#: Held-out loss, relative to Var y, below which a fit counts as exact and restarts stop (ours).
EXACT = 1e-10


@dataclass
class Data:
    """Training rows (for moments and fitting) and held-out rows (for selection only)."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray

    @property
    def d(self) -> int:
        return self.X.shape[1]


def split(X: np.ndarray, y: np.ndarray, validation_fraction: float, rng: np.random.Generator) -> Data:
    """Hold out a random ``validation_fraction`` of the rows (at least one row each side)."""
    n = len(y)
    n_val = min(max(int(round(validation_fraction * n)), 1), n - 1)
    order = rng.permutation(n)
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return Data(X[train], y[train], X[val], y[val])


def moment_pass(data: Data, spec: moments.MomentSpec, report: Report, stage: str) -> moments.Moments:
    """One pass of the moment engine over the training rows, recorded in the report."""
    start = time.perf_counter()
    result = moments.finalize(moments.accumulate(data.X, data.y, spec), spec)
    report.passes += 1
    report.add(stage, time.perf_counter() - start, degrees=[2, *spec.degrees],
               contractions=spec.n_directions, samples=result.n)
    return result


def _rows(data: Data, limit: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if len(data.y) <= limit:
        return data.X, data.y
    rows = np.sort(rng.choice(len(data.y), limit, replace=False))
    return data.X[rows], data.y[rows]


def validation_mse(net: ReLUNetwork, data: Data) -> float:
    return float(np.mean((net.predict(data.X_val) - data.y_val) ** 2))


def fit_in_subspace(
    data: Data, V: np.ndarray, k: int, rng: np.random.Generator, options: dict, report: Report
) -> ReLUNetwork:
    """Stage C: ``k`` neurons inside span ``V`` (d, r), best of ``restarts`` by held-out loss.

    Each restart draws its own contractions for the candidate pool, selects greedily and
    refines on the projected rows ``Z = X V`` (at most ``fit_rows`` of them). Restarts stop
    early once one fits the held-out rows to rounding.
    """
    start = time.perf_counter()
    X, y = _rows(data, options["fit_rows"], rng)
    Z = X @ V
    best, best_loss, losses = None, np.inf, []
    for _ in range(options["restarts"]):
        pool = candidate_pool(Z, y, rng, n_contractions=options["contractions"],
                              threshold=options["threshold"], net_points=options["net_points"])
        U = greedy_select(Z, y, pool, k, step_iter=options["step_iter"])
        U, fit = refine(Z, y, U, Z, max_iter=options["refine_iter"])
        net = to_network(U @ V.T, fit, V, data.d)
        loss = validation_mse(net, data)
        losses.append(loss)
        if loss < best_loss:
            best, best_loss = net, loss
        if best_loss <= EXACT * np.var(data.y_val):
            break
    report.add("neurons", time.perf_counter() - start, subspace_dim=V.shape[1], rows=len(y),
               candidates=len(pool), restart_validation_mse=losses)
    return best


def finish(data: Data, net: ReLUNetwork, V: np.ndarray, options: dict, report: Report) -> ReLUNetwork:
    """Stage D: refine all directions in R^d, resolve signs, keep the pure network if it fits as well."""
    start = time.perf_counter()
    X, y = _rows(data, options["polish_rows"], np.random.default_rng(0))
    XV = X @ V
    U, fit = refine(X, y, net.directions, XV, max_iter=options["polish_iter"])
    with_linear = to_network(U, fit, V, data.d)
    flipped, remainder = resolve_signs(with_linear)
    U_pure, fit_pure = refine(X, y, flipped.directions, None, max_iter=options["polish_iter"])
    pure = to_network(U_pure, fit_pure, None, data.d)
    loss_linear, loss_pure = validation_mse(with_linear, data), validation_mse(pure, data)
    # Ours: the pure k-ReLU form wins unless the linear term buys more than 1% of held-out loss.
    chosen = pure if loss_pure <= 1.01 * loss_linear + EXACT * np.var(data.y_val) else with_linear
    if options["collapse_tol"] > 0:
        chosen = chosen.collapse(options["collapse_tol"])
    report.add("polish", time.perf_counter() - start, rows=len(y), linear_remainder=remainder,
               validation_mse_linear=loss_linear, validation_mse_pure=loss_pure,
               signs_resolved=chosen is pure or chosen.linear is None)
    report.validation_mse = validation_mse(chosen, data)
    report.validation_relative = report.validation_mse / max(float(np.var(data.y_val)), 1e-300)
    return chosen


def fit_output_only(data: Data, V: np.ndarray) -> ReLUNetwork:
    """A purely linear model in span ``V`` (no neurons): the fallback when nothing is found."""
    fit = output_layer(data.X, data.y, np.zeros((0, data.d)), data.X @ V)
    return to_network(np.zeros((0, data.d)), fit, V, data.d)
