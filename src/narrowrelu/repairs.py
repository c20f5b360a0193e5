"""Repairs of a polished network that is not exact: each proposes a candidate, kept only if better.

:func:`repair_close_pair` re-seeds the two weakest neurons as a close pair (ours); whether the
proposal replaces the network is decided by :func:`~narrowrelu.selection.keep_best`.
"""

from __future__ import annotations

import time

import numpy as np

from . import moments
from .forms import collapsed
from .neurons import close_pair_seed
from .options import FitOptions
from .pipeline import Data, kept_rows
from .polish import fit_directions, output_layer, to_network
from .report import Report
from .selection import Candidate, evaluate, keep_best

__all__ = ["repair_close_pair"]


def repair_close_pair(data: Data, current: Candidate, rng: np.random.Generator, options: FitOptions,
                      report: Report) -> Candidate:
    """Replace the two weakest neurons of a polished network by a close pair, when that fits better (ours).

    A close pair the fit inside the subspace missed ends as a local minimum of the refinement:
    two weak, far-apart neurons mimic it. Without them, the residual is the pair's gated
    linear unit, which :func:`~narrowrelu.neurons.close_pair_seed` fits on about
    ``select_rows`` of about ``fit_rows`` evenly spread rows, its base in the plane of the
    two or in that of the two leading eigen-directions of :math:`T_2` of the residual (on all
    ``fit_rows``: the gated unit's own plane). The seeded network is refined like stage D
    only when it already fits the ``select_rows`` better than ``current``, and kept when its
    held-out loss is lower. Pure networks (no linear term) of at least two
    neurons in at least two dimensions only; otherwise ``current`` is returned.
    """
    net = current.network
    if net.k < 2 or net.linear is not None or data.d < 2:
        return current
    start = time.perf_counter()
    order = np.argsort(np.abs(net.weights))
    weak, rest = net.directions[order[:2]], net.directions[order[2:]]
    step = max(1, len(data.y) // options.fit_rows)  # evenly strided: no random draw when nothing changes
    X, y = data.X[::step], data.y[::step]
    e = output_layer(X, y, rest).residual
    mu, Q = np.linalg.eigh(moments.low_degree(X, e).T2)
    select = slice(None, None, max(1, len(y) // options.select_rows))
    X, y = X[select], y[select]
    seed = np.vstack([rest, close_pair_seed(X, e[select], [weak.T, Q[:, np.argsort(-np.abs(mu))[:2]]])])
    seed_mse, current_mse = output_layer(X, y, seed).mse, output_layer(X, y, net.directions).mse
    best, repaired_mse = current, None
    if seed_mse < current_mse:
        X, y = kept_rows(data, options.polish_rows, rng)
        U, fit = fit_directions(X, y, seed, None, options.polish_iter, options.levenberg_marquardt)
        repaired = evaluate(collapsed(to_network(U, fit, None, data.d), options), data, "close-pair repair")
        repaired_mse = repaired.loss
        best = keep_best(current, repaired)
    report.add("polish", time.perf_counter() - start, repair="close pair", seed_mse=seed_mse,
               current_mse=current_mse, validation_mse_repaired=repaired_mse, kept=best is not current)
    return best
