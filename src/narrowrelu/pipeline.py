"""The stages every method shares: split, moment passes, fit inside a subspace, finish.

Data flows one way: source -> moments -> subspace -> neurons -> polish -> network. A method
(:mod:`narrowrelu.methods`) decides which moments to take and how to grow the subspace; it
calls these functions for everything else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import moments
from .engines import Engine, RowPlan
from .network import ReLUNetwork
from .neurons import candidate_pool, close_pair_seed, greedy_select, net_size, sphere_net
from .polish import linear_as_pair, output_layer, refine, resolve_signs, to_network
from .report import Report
from .sources import Source
from .subspace import (
    merge_directions,
    significant_directions,
    significant_square_directions,
)

__all__ = [
    "Data", "scan", "moment_pass", "low_degree_subspace", "grow_on_kept_rows", "grow_subspace", "fit_in_subspace",
    "finish",
    "repair_close_pair",
    "record",
    "validation_mse",
    "linear_fallback",
]

#: Held-out loss, relative to Var y, below which a fit counts as exact: restarts and the search
#: stop, and no linear term is tried (ours; recovery in docs/evaluation.md means error <= 1e-4).
EXACT = 1e-8
#: Restarts also stop when one lands within this relative distance of the best loss (ours).
AGREE = 0.01
#: The pure k-ReLU form wins unless a linear term buys more than this share of held-out loss (ours).
LINEAR_GAIN = 0.01


#: Validation rows kept in memory at most; beyond that the held-out share shrinks (ours).
MAX_VALIDATION_ROWS = 200_000
#: Training rows kept in memory for fitting and polishing at most (ours).
MAX_KEPT_ROWS = 400_000


@dataclass
class Data:
    """The source, how its rows are split, and the rows the first pass kept in memory.

    Moment passes stream the training rows of ``source`` through ``engine``; ``X``, ``y`` are
    the training rows kept for fitting (all of them when they fit in ``MAX_KEPT_ROWS``) and
    ``X_val``, ``y_val`` the held-out rows (selection only). ``low`` is pass 1 (T0, T1, T2 of
    the labels): fits of several widths (``k="auto"``) share it.
    """

    source: Source
    plan: RowPlan
    engine: Engine
    n_train: int
    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    low: moments.Moments = field(repr=False)

    @property
    def d(self) -> int:
        return self.source.n_features


def scan(source: Source, validation_fraction: float, engine: Engine, report: Report) -> Data:
    """Pass 1: split the rows (:class:`RowPlan`), keep the in-memory rows, and take T0, T1, T2."""
    plan = RowPlan.for_rows(source.n_rows, validation_fraction, MAX_VALIDATION_ROWS, MAX_KEPT_ROWS)
    n_val = plan.n_validation()
    if not 0 < n_val < source.n_rows:
        raise ValueError(f"validation_fraction={validation_fraction} holds out {n_val} of {source.n_rows} rows; "
                         "choose it so that both sides get at least one row")
    spec = moments.MomentSpec(d=source.n_features, batch_rows=moments.batch_rows_for(source.n_rows))
    start = time.perf_counter()
    state, sample = engine.run(source, spec, plan, collect=True)
    low = moments.finalize(state, spec)
    report.passes += 1
    report.add("moments", time.perf_counter() - start, degrees=[2], contractions=0, samples=low.n,
               kept_in_memory=len(sample.y), held_out=len(sample.y_val))
    return Data(source, plan, engine, low.n, sample.X, sample.y, sample.X_val, sample.y_val, low)


def moment_pass(data: Data, spec: moments.MomentSpec, report: Report, stage: str) -> moments.Moments:
    """One pass of the moment engine over the training rows, recorded in the report."""
    start = time.perf_counter()
    result = moments.finalize(data.engine.run(data.source, spec, data.plan)[0], spec)
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


def low_degree_subspace(data: Data, k: int, threshold: float, report: Report) -> tuple[moments.Moments, np.ndarray]:
    """The significant eigen-directions of :math:`T_2` (from pass 1, ``data.low``)."""
    low = data.low
    empty = np.zeros((data.d, 0))
    found, mu = significant_directions(low.T2, low.T2_noise(), threshold, empty)
    V = merge_directions(empty, [found], max_dim=k)
    report.add("subspace", 0.0, found=V.shape[1], eigenvalues=mu, noise=low.T2_noise(), threshold=threshold)
    return low, V


def _scaled(M: np.ndarray, noise: float, threshold: float, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Significant directions of ``M`` off ``V``, eigenvalues in units of ``noise``."""
    directions, mu = significant_directions(M, noise, threshold, V)
    return directions, mu / noise


def _second_moment_directions(m: moments.Moments, threshold: float, V: np.ndarray) -> list:
    """:func:`_scaled` for :math:`T_2` of the target and, when taken, of its square."""
    found = [_scaled(m.T2, m.T2_noise(), threshold, V)]
    if m.T2_squared is not None:
        found.append(_scaled(m.T2_squared, m.T2_squared_noise(), threshold, V))
    return found


def grow_on_kept_rows(
    data: Data, V: np.ndarray, max_dim: int, residual, threshold: float, report: Report, squared: bool = True
) -> np.ndarray:
    r"""No pass over the source: :math:`T_2` of ``r = y - residual(x)`` (and of :math:`r^2`) on the kept rows.

    Off ``V`` the residual's :math:`T_2` is that of ``y`` with the noise of ``r``, which the
    residual makes far smaller than that of ``y`` (pass 1), and :math:`T_2` of :math:`r^2` sees
    every hidden direction at full strength (see :func:`grow_subspace`). Two weighted Gram
    matrices over at most ``MAX_KEPT_ROWS`` rows in memory; contractions need a pass.
    """
    start = time.perf_counter()
    spec = moments.MomentSpec(d=data.d, squared=squared, batch_rows=moments.batch_rows_for(len(data.y)),
                              residual=residual)
    m = moments.finalize(moments.accumulate(data.X, data.y, spec), spec)
    grown = merge_directions(V, [f[0] for f in _second_moment_directions(m, threshold, V)], max_dim=max_dim)
    report.add("subspace", time.perf_counter() - start, found=grown.shape[1] - V.shape[1], source="kept rows",
               rows=len(data.y), T2_noise=m.T2_noise(), threshold=threshold)
    return grown


def grow_subspace(
    data: Data, V: np.ndarray, max_dim: int, G: np.ndarray, degrees: tuple[int, ...], residual,
    threshold: float, report: Report, min_singular: float = 0.5, squared: bool = False,
) -> np.ndarray:
    r"""One pass: :math:`T_2` and :math:`M_\ell(g)` of ``y - residual(x)``; their significant directions off ``V``.

    With ``squared``, also :math:`T_2` of the squared residual :math:`r^2` (ours): :math:`r`
    depends on x only through the hidden directions (and V), so the range of
    :math:`E[r^2(xx^T - I)]` lies in their span, and it sees at full strength what odd and
    low-degree moments cannot (:math:`|t|`-like structure, the ``vanishing`` family, whose
    square has a degree-2 part) while a contraction :math:`M_4(g)` sees it at
    :math:`\langle u, g\rangle^2 \sim 1/d`. Returns ``V`` grown by the new directions (at
    most ``max_dim`` columns in all).
    """
    spec = moments.MomentSpec(d=data.d, degrees=tuple(degrees), directions=G, squared=squared,
                              batch_rows=moments.batch_rows_for(data.source.n_rows), residual=residual)
    m = moment_pass(data, spec, report, "moments")
    noise = m.M_noise()
    found = _second_moment_directions(m, threshold, V)
    found += [_scaled(m.M[i, j], noise[i, j], threshold, V) for i in range(len(degrees)) for j in range(len(G))]
    found.append(significant_square_directions(m.batch_M, threshold, V))
    grown = merge_directions(V, [f[0] for f in found], max_dim=max_dim, min_singular=min_singular)
    report.add("subspace", 0.0, found=grown.shape[1] - V.shape[1], degrees=list(degrees),
               signal_to_noise=sorted((abs(float(f[1][0])) for f in found if len(f[1])), reverse=True),
               T2_noise=m.T2_noise(), threshold=threshold)
    return grown


def _net_pool(r: int, rows: int, k: int, rng: np.random.Generator, options: dict) -> np.ndarray:
    r"""The :math:`\eta`-net dictionary, refused with its estimated cost when too large."""
    count = net_size(r, options["net_eta"])
    if count > options["max_net"]:
        flops = 2.0 * count * rows * (k + r + 2) * k
        raise ValueError(
            f"an eta-net (eta={options['net_eta']}) of the unit sphere of the {r}-dimensional subspace has "
            f"about {count:,} points (limit max_net={options['max_net']:,}); greedy selection over it would "
            f"cost about {flops:.1e} flops (~{flops / 1e9 / 3600:.1f} hours at 1 GFlop/s). Increase net_eta, "
            f"raise max_net, or use method='auto'"
        )
    return sphere_net(r, count, rng)


def fit_in_subspace(
    data: Data, V: np.ndarray, k: int, rng: np.random.Generator, options: dict, report: Report,
    restarts: int | None = None,
) -> ReLUNetwork:
    r"""Stage C: ``k`` neurons inside span ``V`` (d, r), best of ``restarts`` by held-out loss.

    Candidates are the moment-based pool (``candidates="moments"``) or an :math:`\eta`-net of
    the unit sphere of ``V`` (``"net"``, the papers' final step). Each restart selects
    greedily on about ``select_rows`` of the projected rows ``Z = X V`` and, when ``polish``
    is on, refines on all of them (at most ``fit_rows``). Restarts (``options["restarts"]``
    unless given) stop early once one fits the held-out rows to rounding, or once one is
    better than the earlier ones or within ``AGREE`` of the best of them.
    """
    start = time.perf_counter()
    X, y = _rows(data, options["fit_rows"], rng)
    Z = X @ V
    low = moments.low_degree(Z, y) if options["candidates"] == "moments" else None
    step_iter = options["step_iter"] if options["polish"] else 0
    select = max(1, len(y) // options["select_rows"])  # greedy selection on every select-th row
    best, best_loss, losses = None, np.inf, []
    for _ in range(options["restarts"] if restarts is None else restarts):
        if options["candidates"] == "net":
            pool = _net_pool(V.shape[1], len(y), k, rng, options)
        else:
            pool = candidate_pool(Z, y, low, rng, n_contractions=options["contractions"],
                                  threshold=options["threshold"], net_points=options["net_points"])
        U = greedy_select(Z[::select], y[::select], pool, k, step_iter=step_iter)
        if options["polish"]:
            U, fit = refine(Z, y, U, Z, max_iter=options["refine_iter"])
        else:
            fit = output_layer(Z, y, U, Z)
        net = to_network(U @ V.T, fit, V, data.d)
        loss = validation_mse(net, data)
        losses.append(loss)
        if loss < best_loss:
            best, best_loss = net, loss
        agree = len(losses) > 1 and loss <= (1 + AGREE) * min(losses[:-1])
        if best_loss <= EXACT * np.var(data.y_val) or agree:
            break
    report.add("neurons", time.perf_counter() - start, subspace_dim=V.shape[1], rows=len(y),
               candidates=len(pool), source=options["candidates"], restart_validation_mse=losses)
    return best


def finish(
    data: Data, net: ReLUNetwork, V: np.ndarray, rng: np.random.Generator, options: dict, report: Report
) -> ReLUNetwork:
    """Stage D: resolve signs, refine all directions in R^d; keep the pure network if it fits as well.

    The pure k-ReLU form (signs resolved, no linear term) is refined first. A linear term in
    span ``V`` is then offered to its directions (least squares only); when it buys more
    than ``LINEAR_GAIN`` of held-out loss, the pure form is refined again from the flips'
    remainder written as two neurons (:func:`~narrowrelu.polish.linear_as_pair`), and if the
    linear term still wins, the form with a linear term is refined and kept. With ``polish``
    off the directions stay as found and only the output layer is refitted.
    """
    start = time.perf_counter()
    X, y = _rows(data, options["polish_rows"], rng)
    iters = options["polish_iter"] if options["polish"] else 0
    exact = EXACT * np.var(data.y_val)
    flipped, remainder = resolve_signs(net)
    U, fit = _fit_directions(X, y, flipped.directions, None, iters)
    pure = to_network(U, fit, None, data.d)
    loss_pure = validation_mse(pure, data)
    XV = X @ V
    offered = to_network(U, output_layer(X, y, U, XV), V, data.d)
    loss_linear = validation_mse(offered, data)
    if loss_pure > (1 + LINEAR_GAIN) * loss_linear + exact and net.k >= 2 and remainder > 0:
        U, fit = _fit_directions(X, y, linear_as_pair(flipped).directions, None, iters)
        paired = to_network(U, fit, None, data.d)
        pure, loss_pure = min([(pure, loss_pure), (paired, validation_mse(paired, data))], key=lambda pair: pair[1])
    chosen = pure
    if loss_pure > (1 + LINEAR_GAIN) * loss_linear + exact:
        with_linear = to_network(*_fit_directions(X, y, net.directions, XV, iters), V, data.d)
        chosen, loss_linear = min([(offered, loss_linear), (with_linear, validation_mse(with_linear, data))],
                                  key=lambda pair: pair[1])
    if options["collapse_tol"] > 0:
        chosen = chosen.collapse(options["collapse_tol"])
    report.add("polish", time.perf_counter() - start, rows=len(y), linear_remainder=remainder,
               validation_mse_linear=loss_linear, validation_mse_pure=loss_pure,
               signs_resolved=chosen.linear is None)
    return record(chosen, data, report)


def repair_close_pair(data: Data, net: ReLUNetwork, rng: np.random.Generator, options: dict,
                      report: Report) -> ReLUNetwork:
    """Replace the two weakest neurons of a polished ``net`` by a close pair, when that fits better (ours).

    A close pair the fit inside the subspace missed ends as a local minimum of the refinement:
    two weak, far-apart neurons mimic it. Without them, the residual is the pair's gated
    linear unit, which :func:`~narrowrelu.neurons.close_pair_seed` fits on about
    ``select_rows`` of about ``fit_rows`` evenly spread rows, its base in the plane of the
    two or in that of the two leading eigen-directions of :math:`T_2` of the residual (on all
    ``fit_rows``: the gated unit's own plane). The seeded network is refined like stage D
    only when it already fits the ``select_rows`` better than ``net``, and kept when its
    held-out loss is lower. Pure networks (no linear term) of at least two
    neurons in at least two dimensions only.
    """
    if net.k < 2 or net.linear is not None or data.d < 2:
        return net
    start = time.perf_counter()
    order = np.argsort(np.abs(net.weights))
    weak, rest = net.directions[order[:2]], net.directions[order[2:]]
    step = max(1, len(data.y) // options["fit_rows"])  # evenly strided: no random draw when nothing changes
    X, y = data.X[::step], data.y[::step]
    e = output_layer(X, y, rest).residual
    mu, Q = np.linalg.eigh(moments.low_degree(X, e).T2)
    select = slice(None, None, max(1, len(y) // options["select_rows"]))
    X, y = X[select], y[select]
    seed = np.vstack([rest, close_pair_seed(X, e[select], [weak.T, Q[:, np.argsort(-np.abs(mu))[:2]]])])
    seed_mse, current_mse = output_layer(X, y, seed).mse, output_layer(X, y, net.directions).mse
    kept, repaired_mse = False, None
    if seed_mse < current_mse:
        X, y = _rows(data, options["polish_rows"], rng)
        repaired = to_network(*_fit_directions(X, y, seed, None, options["polish_iter"]), None, data.d)
        if options["collapse_tol"] > 0:
            repaired = repaired.collapse(options["collapse_tol"])
        repaired_mse = validation_mse(repaired, data)
        kept = repaired_mse < report.validation_mse
    report.add("polish", time.perf_counter() - start, repair="close pair", seed_mse=seed_mse,
               current_mse=current_mse, validation_mse_repaired=repaired_mse, kept=kept)
    return record(repaired, data, report) if kept else net


def record(net: ReLUNetwork, data: Data, report: Report) -> ReLUNetwork:
    """Write ``net``'s held-out loss (and relative to the variance of the held-out labels) into ``report``."""
    report.validation_mse = validation_mse(net, data)
    report.validation_relative = report.validation_mse / max(float(np.var(data.y_val)), 1e-300)
    return net


def _fit_directions(X, y, U, XV, iters: int):
    return refine(X, y, U, XV, max_iter=iters) if iters else (U, output_layer(X, y, U, XV))


def linear_fallback(data: Data, report: Report) -> ReLUNetwork:
    """No significant direction: the least-squares linear model (no neurons), with a warning."""
    report.warnings.append("no significant direction found: returning the least-squares linear model")
    fit = output_layer(data.X, data.y, np.zeros((0, data.d)), data.X)
    net = to_network(np.zeros((0, data.d)), fit, np.eye(data.d), data.d)
    return record(net, data, report)
