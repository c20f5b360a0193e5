r"""Stage C: ``k`` neurons inside the subspace :math:`V`, best of a few restarts.

Each restart draws a candidate pool (:mod:`narrowrelu.neurons`), selects ``k`` of them
greedily, and refines them inside :math:`V` (:func:`narrowrelu.polish.refine`). The restarts
are compared by their held-out loss (:mod:`narrowrelu.selection`). With ``biased=True`` the
neurons carry hidden biases: the pool is :func:`~narrowrelu.biases.biased_pool`'s rows
:math:`(v, \beta)`, selected and refined on the augmented coordinates :math:`(z, 1)`.
"""

from __future__ import annotations

import time

import numpy as np

from . import moments
from .biases import biased_pool
from .neurons import candidate_pool, greedy_select, net_size, sphere_net
from .options import FitOptions
from .pipeline import Data, kept_rows
from .polish import augment, output_layer, refine, to_network
from .report import Report
from .selection import Candidate, evaluate, is_exact, keep_best, no_worse

__all__ = ["fit_in_subspace"]


def _net_pool(r: int, rows: int, k: int, rng: np.random.Generator, options: FitOptions) -> np.ndarray:
    r"""The :math:`\eta`-net dictionary, refused with its estimated cost when too large."""
    count = net_size(r, options.net_eta)
    if count > options.max_net:
        flops = 2.0 * count * rows * (k + r + 2) * k
        raise ValueError(
            f"an eta-net (eta={options.net_eta}) of the unit sphere of the {r}-dimensional subspace has "
            f"about {count:,} points (limit max_net={options.max_net:,}); greedy selection over it would "
            f"cost about {flops:.1e} flops (~{flops / 1e9 / 3600:.1f} hours at 1 GFlop/s). Increase net_eta "
            f"(or epsilon), raise max_net, or use method='auto'"
        )
    return sphere_net(r, count, rng)


def fit_in_subspace(
    data: Data, V: np.ndarray, k: int, rng: np.random.Generator, options: FitOptions, report: Report,
    restarts: int = 1, neighbours: bool = False, biased: bool = False,
) -> Candidate:
    r"""Stage C: ``k`` neurons inside span ``V`` (d, r), best of ``restarts`` by held-out loss.

    Candidates are the moment-based pool (``candidates="moments"``) or an :math:`\eta`-net of
    the unit sphere of ``V`` (``"net"``, the papers' final step). Each restart selects
    greedily on about ``select_rows`` of the projected rows ``Z = X V`` and, when ``polish``
    is on, refines on all of them (at most ``fit_rows``); with ``neighbours`` each greedy step
    also offers the chosen directions tilted (:func:`~narrowrelu.neurons.greedy_select`).
    ``auto`` runs one restart; the paper methods run ``options.restarts``, which stop early once
    one is exact, or once one is better than the earlier ones or agrees with the best of them
    (:func:`~narrowrelu.selection.no_worse`).
    ``biased``: neurons with hidden biases (the module docstring), the linear term still on ``Z``.
    """
    start = time.perf_counter()
    X, y = kept_rows(data, options.fit_rows, rng)
    Z = X @ V
    inputs = augment(Z) if biased else Z
    low = moments.low_degree(Z, y) if options.candidates == "moments" or biased else None
    step_iter = options.step_iter if options.polish else 0
    select = max(1, len(y) // options.select_rows)  # greedy selection on every select-th row
    best: Candidate | None = None
    losses: list[float] = []
    for _ in range(restarts):
        if biased:
            pool = biased_pool(Z, y, low, rng, n_contractions=options.contractions, threshold=options.threshold)
        elif options.candidates == "net":
            pool = _net_pool(V.shape[1], len(y), k, rng, options)
        else:
            pool = candidate_pool(Z, y, low, rng, n_contractions=options.contractions, threshold=options.threshold)
        U = greedy_select(inputs[::select], y[::select], pool, k, step_iter=step_iter, refine=refine,
                          offer_neighbours=neighbours, linear=Z[::select])
        if options.polish:
            U, fit = refine(inputs, y, U, Z, max_iter=options.refine_iter)
        else:
            fit = output_layer(inputs, y, U, Z)
        lifted = np.hstack([U[:, :-1] @ V.T, U[:, -1:]]) if biased else U @ V.T
        candidate = evaluate(to_network(lifted, fit, V, data.d), data, "inside V, biased" if biased else "inside V")
        agree = bool(losses) and no_worse(candidate.loss, min(losses))
        losses.append(candidate.loss)
        best = keep_best(best, candidate)
        if is_exact(best) or agree:
            break
    report.add("neurons", time.perf_counter() - start, subspace_dim=V.shape[1], rows=len(y),
               candidates=len(pool), source="biased" if biased else options.candidates,
               restart_validation_mse=losses)
    return best
