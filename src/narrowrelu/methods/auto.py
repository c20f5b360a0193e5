r"""``auto``: noise-calibrated iterative subspace discovery, Jennrich + greedy inside it, polish.

Our default, built from the shared stages (docs/algorithms.md)::

    T2 <- moments of y;  V <- eigen-directions of T2 above threshold x noise    (pass 1)
    q <- degree-<=2 Hermite fit of y, T2 projected onto V (off V it is noise)
    while dim V < k (CDG+23's iterative discovery):
        V <- V + significant directions off V of T2 of r = y - q(x) and of r^2,
             on the rows kept in memory (no pass)
        if nothing new: V <- V + those of T2, each M4(g), sum_g M4(g)^2 (cross-batch)
             of r and T2 of r^2, g drawn inside V and in the whole space  (one pass)
        stop when nothing new is found
    if dim V < k: V <- V + directions of T2 of r above fill_threshold (< threshold) x noise
    repeat:
        net <- k neurons inside V (Jennrich / greedy / refine)              (stage C)
        if dim V >= k, or nothing was found next to the rough net:
            net <- net polished in R^d, signs resolved                       (stage D)
                   (while it is not exact: its two weakest neurons re-seeded as a close
                    pair, kept if better; restarts of stage C, their best polished too)
            if net's held-out loss <= EXACT x Var y: stop
        V <- V + significant directions off V of the moments of y - net(x) - q'(x),
             q' the degree-<=2 fit of y - net (the net's exact moments, T2 on V) (one pass)
        if nothing new while dim V < k: V <- V + directions of T2 of that residual
             above fill_threshold x its noise, on the kept rows (no pass)
        stop when nothing new is found next to a polished net (dim V <= k + extra_dims)

Residualising is what makes the later passes sensitive: their noise scale is that of the
residual, not of y (docs/maths.md §2). Removing the degree-<=2 fit of what the network misses as
well keeps the residual small even while the network is wrong.
"""

from __future__ import annotations

import numpy as np

from ..network import ReLUNetwork
from ..pipeline import (
    AGREE,
    EXACT,
    Data,
    finish,
    fit_in_subspace,
    grow_on_kept_rows,
    grow_subspace,
    linear_fallback,
    low_degree_subspace,
    record,
    repair_close_pair,
    validation_mse,
)
from ..report import Report
from ..subspace import random_unit_vectors

DEFAULTS = {
    "threshold": 4.0,  # eigenvalues count above threshold x their noise scale (ours)
    "fill_threshold": 2.0,  # ... or above this, while fewer than k directions are found (ours)
    "max_stages": 4,  # discovery passes after the first (ours)
    "contractions_inside": 4,  # contraction vectors g drawn inside V per pass (ours)
    "contractions_outside": 16,  # ... and in the whole space (ours)
    "degrees": (4,),  # contraction degrees of the discovery passes
    "squared_residual": True,  # discovery also takes T2 of the squared residual (ours)
    "extra_dims": 2,  # V may exceed k by this many directions, with a warning (ours)
    "candidates": "moments",  # candidate directions inside V: "moments" or "net"
    "contractions": 6,  # contractions per candidate pool inside V (ours)
    "net_points": 360,  # sphere-net points added to the candidates when dim V <= 3 (ours)
    "net_eta": 0.1,  # eta-net spacing when candidates="net" (ours)
    "max_net": 100_000,  # largest eta-net we agree to search (ours)
    "restarts": 3,  # candidate pools / greedy runs inside V; the first is polished alone if exact (ours)
    "fit_rows": 40_000,  # rows used inside V for the fit (ours)
    "select_rows": 10_000,  # ... of which the greedy selection uses about this many (ours)
    "polish": True,  # local refinement (L-BFGS on the variable-projection loss)
    "step_iter": 25,  # L-BFGS iterations after each greedy step (ours)
    "refine_iter": 150,
    "polish_rows": 400_000,
    "polish_iter": 400,
    "collapse_tol": 0.0,
}


def auto(data: Data, k: int, rng: np.random.Generator, options: dict, report: Report) -> ReLUNetwork:
    """Our default (see the module docstring)."""
    low, V = low_degree_subspace(data, k, options["threshold"], report)
    passes = options["max_stages"]
    while V.shape[1] < k:
        residual = low.quadratic_model(span=V)
        grown = grow_on_kept_rows(data, V, k + options["extra_dims"], residual, options["threshold"], report,
                                  squared=options["squared_residual"])
        if grown.shape[1] == V.shape[1] and passes:
            passes -= 1
            grown = _discover(data, V, k, rng, options, residual, report)
        if grown.shape[1] == V.shape[1]:
            break
        V = grown
    V = _filled(data, V, k, low.quadratic_model(span=V), options, report)
    if V.shape[1] == 0:
        return linear_fallback(data, report)
    net, polished = _neurons(data, V, k, rng, options, report, polish=V.shape[1] >= k or not passes)
    stalled = False
    while True:
        if not polished and (stalled or not passes):  # nothing more was found next to the rough fit
            net, polished = _polished(data, net, V, k, rng, options, report), True
        if (polished and report.validation_relative <= EXACT) or not passes:
            break
        passes -= 1
        residual = low.quadratic_model(net, span=V)
        grown = _discover(data, V, k, rng, options, residual, report)
        if grown.shape[1] == V.shape[1]:  # the net's residual is small: weaker directions now show
            grown = _filled(data, V, k, residual, options, report)
        if grown.shape[1] == V.shape[1]:
            if polished:
                break
            stalled = True  # look once more, next to the polished network
            continue
        V, stalled = grown, False
        net, polished = _neurons(data, V, k, rng, options, report, polish=V.shape[1] >= k or not passes)
    if V.shape[1] > k:
        report.warnings.append(f"the subspace grew to dimension {V.shape[1]} > k = {k} to correct the fit; "
                               f"the network still has at most {k} neurons")
    return net


def _neurons(data: Data, V: np.ndarray, k: int, rng, options: dict, report: Report,
             polish: bool) -> tuple[ReLUNetwork, bool]:
    """Stage C, and D when ``polish`` (then one restart first: see :func:`_polished`)."""
    if not polish:
        return fit_in_subspace(data, V, k, rng, options, report), False
    return _polished(data, fit_in_subspace(data, V, k, rng, options, report, restarts=1), V, k, rng, options,
                     report), True


def _polished(data: Data, net: ReLUNetwork, V: np.ndarray, k: int, rng, options: dict,
              report: Report) -> ReLUNetwork:
    """Stage D on ``net``; when that is not exact, stage C's other restarts, and their best polished too.

    The best other restart is polished only when it ended elsewhere inside ``V``: its held-out
    loss differs from that of ``net`` by more than ``AGREE`` (one that agrees polishes to
    the same place; on noisy data the restarts agree). The better polished network is kept.
    """
    first = _finish(data, net, V, rng, options, report)
    if report.validation_relative <= EXACT or options["restarts"] == 1:
        return first
    first_loss = report.validation_mse
    other = fit_in_subspace(data, V, k, rng, options, report, restarts=options["restarts"] - 1)
    rough = validation_mse(net, data)
    if abs(validation_mse(other, data) - rough) <= AGREE * rough:
        return first
    second = _finish(data, other, V, rng, options, report)  # the report now holds the second's loss
    return record(first, data, report) if first_loss <= report.validation_mse else second


def _finish(data: Data, net: ReLUNetwork, V: np.ndarray, rng, options: dict, report: Report) -> ReLUNetwork:
    """Stage D, then, while the network is not exact, the close-pair repair."""
    net = finish(data, net, V, rng, options, report)
    return net if report.validation_relative <= EXACT else repair_close_pair(data, net, rng, options, report)


def _filled(data: Data, V: np.ndarray, k: int, residual, options: dict, report: Report) -> np.ndarray:
    """While dim V < k: V plus the directions of T2 of ``y - residual(x)`` above ``fill_threshold``
    noise scales, on the kept rows (no pass), for the fit to use."""
    if V.shape[1] >= k:
        return V
    return grow_on_kept_rows(data, V, k, residual, options["fill_threshold"], report, squared=False)


def _discover(data: Data, V: np.ndarray, k: int, rng, options: dict, residual, report: Report) -> np.ndarray:
    """One discovery pass on ``y - residual(x)``: g drawn inside ``V`` and in the whole space."""
    d = data.d
    inside = random_unit_vectors(rng, options["contractions_inside"], V) if V.shape[1] else np.zeros((0, d))
    G = np.vstack([inside, random_unit_vectors(rng, options["contractions_outside"], np.eye(d))])
    return grow_subspace(data, V, k + options["extra_dims"], G, options["degrees"], residual,
                         options["threshold"], report, squared=options["squared_residual"])
