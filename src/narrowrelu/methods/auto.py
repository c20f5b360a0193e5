r"""``auto``: noise-calibrated iterative subspace discovery, Jennrich + greedy inside it, polish.

Our default, built from the shared stages (docs/algorithms.md). The state is the subspace V,
the rough fit awaiting its polish, the best polished candidate and the pass budget; the loop
below is :func:`auto` line for line::

    V <- eigen-directions of T2 above threshold x noise                         (pass 1)
    state <- (V, rough = none, best = none, passes = max_stages)
    while dim V < k:                                                       discover
        grown <- V + directions of T2 of r = y - q(x) (and of r^2) on the kept rows (no pass)
                 if none and passes: one pass (T2, M4(g) for g inside V and in R^d,
                 sum_g M4(g)^2 cross-batch, T2 of r^2); when d >= high_dim_features and pass 1's
                 noise bounds every M4(g) of g in R^d below threshold, g inside V only
        if nothing new: stop;  V <- grown
    V <- V + directions of T2 of r above fill_threshold, while dim V < k            fill
    if dim V = 0: return the linear model (learn warns: FitWarning)
    fit: rough <- k neurons inside V (Jennrich / greedy / refine)             fit inside V
         if tol > 0 and rough is within tol: best <- keep_best(best, rough); rough <- none
         else if dim V >= k or no passes: polish
    while passes and best is not exact (within max(EXACT, tol)):
        passes <- passes - 1
        grown <- V + directions of the moments of y - net(x) - q'(x)        discover on the residual
                 (one pass; net = rough, or best; then, if nothing new, fill on the kept rows)
        if nothing new: stop if nothing is rough, else polish and go on
        V <- grown; fit
    warn (FitWarning) if dim V > k (only the biased step grows V beyond k)
    best <- streamed polish of best over all training rows, when more than the kept (streamed_passes)
    return best

    polish: first <- repair(finish(rough))                              polish, repair
            best <- keep_best(best, first); rough <- none
            biased                                                                 hidden biases
    repair(c): if c is not exact: keep_best(c, c with its two weakest neurons re-seeded as a close pair)
    biased: if best is not exact: r <- y - best(x) on the kept rows
            if the degree-3 vectors T3(I), T3(v, v, .) of r off V, or M3(e_j) of r on V,
            are above threshold x noise:
                V <- V + those vectors off V + T1 of y off V (if above threshold x noise),
                     at most degree3_dims beyond k
                candidate <- finish(first with zero biases)                         (polish on (x, 1))
                repeat 1 + (whole_space_refits if dim V = d else 0) times, while candidate is not exact:
                    candidate <- keep_best(candidate, finish(k neurons with biases inside V))
                best <- keep_best(best, candidate)
    report the biases and the units dead or linear on the rows (FitWarning)

``q`` is the degree-<=2 Hermite fit of y (T2 projected onto V: off V it is noise) and ``q'``
that of ``y - net`` (the net's exact moments, T2 on V). Residualising is what makes the later
passes sensitive: their noise scale is that of the residual, not of y (docs/maths.md §2).
Every held-out comparison is :mod:`narrowrelu.selection`'s; the report is only written.

Each mechanism can be switched off (:class:`~narrowrelu.options.AutoOptions`):
``kept_row_discovery`` (the kept-row look before a pass), ``squared_residual`` (T2 of r^2),
``weaker_fills`` (both fills), ``close_pair_repair`` (repair), ``levenberg_marquardt`` (the LM
finish of the refinement), ``contractions_inside=0`` (no g inside V), ``max_stages=0`` (no pass
after the first), ``biases`` (the biased step; on data whose degree-3 signal is below threshold it
never runs, and the result is the bias-free one), ``whole_space_refits=0`` (one biased fit when V is
all of R^d) and ``streamed_passes=0`` (the best network as polished on the kept rows;
:mod:`narrowrelu.streamed`). Four more mechanisms (restarts of the fit inside V, neighbour
candidates in the greedy steps, V beyond k in discovery, sphere-net candidates) fixed nothing in
the ablation (docs/results/ablation/) and were removed; those restarts ran for every fit inside V,
the refits above only when V is all of R^d (their ablation: docs/results/bias/).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..biases import activity_messages, degree3_evidence, linear_direction, unit_activity
from ..exceptions import FitWarning
from ..forms import finish, linear_fallback
from ..highdim import outside_visible
from ..inside import fit_in_subspace
from ..network import ReLUNetwork
from ..options import AutoOptions
from ..pipeline import Data
from ..repairs import repair_close_pair
from ..report import Report
from ..selection import Candidate, is_exact, keep_best, record
from ..streamed import streamed_polish
from ..subspace import (
    grow_on_kept_rows,
    grow_subspace,
    low_degree_subspace,
    merge_directions,
    random_unit_vectors,
)


@dataclass
class State:
    """What ``auto`` knows between steps."""

    V: np.ndarray  # (d, r) orthonormal basis of the subspace found so far
    passes: int  # discovery passes left
    rough: Candidate | None = None  # a fit inside V not polished yet
    best: Candidate | None = None  # the best polished candidate so far

    @property
    def network(self):
        """The network the next discovery residualises against: the rough fit, else the best."""
        return (self.rough or self.best).network


def auto(data: Data, k: int, rng: np.random.Generator, options: AutoOptions, report: Report):
    """Our default (see the module docstring)."""
    low, V = low_degree_subspace(data, k, options.threshold, report)
    state = State(V, options.max_stages)
    while state.V.shape[1] < k:
        grown = _discover(data, state, k, rng, options, low.quadratic_model(span=state.V), report)
        if grown.shape[1] == state.V.shape[1]:
            break
        state.V = grown
    state.V = _fill(data, state.V, k, low.quadratic_model(span=state.V), options, report)
    if state.V.shape[1] == 0:
        return record(linear_fallback(data), report)
    _fit(data, state, k, rng, options, report)
    while state.passes and not (state.best and is_exact(state.best, options.tol)):
        state.passes -= 1
        residual = low.quadratic_model(state.network, span=state.V)
        grown = _discover_on_residual(data, state, k, rng, options, residual, report)
        if grown.shape[1] == state.V.shape[1]:
            if state.rough is None:
                break
            _polish(data, state, k, rng, options, report)
            continue
        state.V = grown
        _fit(data, state, k, rng, options, report)
    if state.V.shape[1] > k:
        message = (f"the subspace grew to dimension {state.V.shape[1]} > k = {k}; "
                   f"the network still has at most {k} neurons")
        warnings.warn(message, FitWarning, stacklevel=3)
        report.warnings.append(message)
    state.best = streamed_polish(data, state.best, options.streamed_passes, report)  # all training rows
    _report_biases(data, state.best.network, report)
    return record(state.best, report)


def _discover(data: Data, state: State, k: int, rng, options: AutoOptions, residual, report: Report) -> np.ndarray:
    """V plus what the kept rows show (no pass) or, when they show nothing and passes are left, one pass."""
    grown = state.V
    if options.kept_row_discovery:
        grown = grow_on_kept_rows(data, state.V, k, residual, options.threshold, report,
                                  squared=options.squared_residual)
    if grown.shape[1] == state.V.shape[1] and state.passes:
        state.passes -= 1
        grown = _discovery_pass(data, state.V, k, rng, options, residual, report)
    return grown


def _discover_on_residual(data: Data, state: State, k: int, rng, options: AutoOptions, residual,
                          report: Report) -> np.ndarray:
    """One pass on the network's residual; if nothing new, the weaker directions of its T2 (kept rows)."""
    grown = _discovery_pass(data, state.V, k, rng, options, residual, report)
    if grown.shape[1] == state.V.shape[1]:  # the net's residual is small: weaker directions now show
        grown = _fill(data, state.V, k, residual, options, report)
    return grown


def _fill(data: Data, V: np.ndarray, k: int, residual, options: AutoOptions, report: Report) -> np.ndarray:
    """While dim V < k: V plus the directions of T2 of ``y - residual(x)`` above ``fill_threshold``
    noise scales, on the kept rows (no pass), for the fit to use."""
    if V.shape[1] >= k or not options.weaker_fills:
        return V
    return grow_on_kept_rows(data, V, k, residual, options.fill_threshold, report, squared=False)


def _discovery_pass(data: Data, V: np.ndarray, k: int, rng, options: AutoOptions, residual,
                    report: Report) -> np.ndarray:
    """One discovery pass on ``y - residual(x)``: g drawn inside ``V`` and in the whole space; in high
    dimension those in the whole space only when the bound of :mod:`narrowrelu.highdim` says they can
    clear the threshold (no pass when nothing is left: the kept rows have just shown T2 of the residual)."""
    d = data.d
    inside = random_unit_vectors(rng, options.contractions_inside, V) if V.shape[1] else np.zeros((0, d))
    visible, bound = outside_visible(data.low, d, k, options.degrees, options.contractions_outside,
                                     options.threshold, options.high_dim_features)
    if not visible:
        report.add("subspace", 0.0, found=0, outside_dropped=options.contractions_outside,
                   outside_signal_to_noise_bound=bound, threshold=options.threshold)
        if not len(inside):
            return V
    G = np.vstack([inside, random_unit_vectors(rng, options.contractions_outside, np.eye(d))]) if visible else inside
    return grow_subspace(data, V, k, G, options.degrees, residual, options.threshold, report,
                         squared=options.squared_residual)


def _fit(data: Data, state: State, k: int, rng, options: AutoOptions, report: Report) -> None:
    """Fit inside V; polish at once when V is complete or no pass is left. With a tolerance
    (``tol > 0``) a fit that meets it is kept as it is, unpolished."""
    state.rough = fit_in_subspace(data, state.V, k, rng, options, report)
    if options.tol and is_exact(state.rough, options.tol):
        state.best, state.rough = keep_best(state.best, state.rough), None
    elif state.V.shape[1] >= k or not state.passes:
        _polish(data, state, k, rng, options, report)


def _polish(data: Data, state: State, k: int, rng, options: AutoOptions, report: Report) -> None:
    """Polish the rough fit and repair it; the best so far is replaced only if this is better."""
    rough, state.rough = state.rough, None
    first = _repair(data, finish(data, rough.network, state.V, rng, options, report), rng, options, report)
    state.best = keep_best(state.best, first)
    _biased(data, state, first, k, rng, options, report)


def _biased(data: Data, state: State, first: Candidate, k: int, rng, options: AutoOptions, report: Report) -> None:
    """Hidden biases, when the best fit is not exact and its residual on the kept rows shows a
    degree-3 signal (a bias-free network has none): V grows by the degree-3 directions off it and
    by T1 of y off it (a unit linear on the data: docs/algorithms.md), then ``first`` with zero
    biases and ``k`` biased neurons inside V are each polished with their biases on (x, 1); kept
    only if better on the held-out rows. When V is all of R^d there is no subspace left to find and
    the fit is the whole search: up to ``whole_space_refits`` more fits from fresh candidate pools."""
    if not options.biases or is_exact(state.best, options.tol):
        return
    start = time.perf_counter()
    residual = data.y - state.best.network.predict(data.X)
    found, signal = degree3_evidence(data.X, residual, state.V, options.threshold)
    report.add("biases", time.perf_counter() - start, degree3_signal=signal, found=found.shape[1],
               threshold=options.threshold)
    if signal <= options.threshold:
        return
    linear = linear_direction(data.X, data.y, state.V, options.threshold)
    report.add("biases", 0.0, linear_direction_off_V=linear.shape[1])
    state.V = merge_directions(state.V, [found, linear], max_dim=k + options.degree3_dims)
    net = first.network
    if net.biases is None:
        net = ReLUNetwork(net.weights, net.directions, net.linear, net.intercept, biases=np.zeros(net.k))
    candidate = finish(data, net, state.V, rng, options, report)
    fits = 1 + (options.whole_space_refits if state.V.shape[1] >= data.d else 0)  # V = R^d: the fit is the search
    for _ in range(fits):
        if is_exact(candidate, options.tol):
            break
        inside = fit_in_subspace(data, state.V, k, rng, options, report, biased=True)
        candidate = keep_best(candidate, finish(data, inside.network, state.V, rng, options, report))
    state.best = keep_best(state.best, candidate)


def _report_biases(data: Data, net: ReLUNetwork, report: Report) -> None:
    """The biases found and the share of the kept rows on which each unit is active; a FitWarning
    for each unit dead or linear on the data (only its linear part is identifiable)."""
    if net.biases is None:
        return
    active = unit_activity(net, data.X)
    report.add("biases", 0.0, biases=net.biases, active_share=active)
    for message in activity_messages(net, active):
        warnings.warn(message, FitWarning, stacklevel=3)
        report.warnings.append(message)


def _repair(data: Data, candidate: Candidate, rng, options: AutoOptions, report: Report) -> Candidate:
    """While not exact: the close-pair repair (kept only if better)."""
    if is_exact(candidate, options.tol) or not options.close_pair_repair:
        return candidate
    return repair_close_pair(data, candidate, rng, options, report)
