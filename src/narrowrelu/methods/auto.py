r"""``auto``: noise-calibrated iterative subspace discovery, Jennrich + greedy inside it, polish.

Our default, built from the shared stages (DESIGN §4)::

    T2 <- moments of y;  V <- eigen-directions of T2 above threshold x noise    (pass 1)
    model <- degree-<=2 Hermite fit of y
    repeat (CDG+23's iterative discovery):
        if V grew: model <- k neurons inside V         (Jennrich / greedy / refine)
        if model fits the held-out rows to rounding: stop
        V <- V + significant directions off V of T2, of each M4(g) and of
             sum_g M4(g)^2 (cross-batch) of y - model(x),
             g drawn inside V and in the whole space   (one pass)
        stop when nothing new is found (dim V <= k + extra_dims)
    polish in R^d, resolve signs, collapse             (stage D)

Residualising on the current model is what makes the later passes sensitive: their noise
scale is that of the residual, not of y (DESIGN §2).
"""

from __future__ import annotations

import numpy as np

from ..network import ReLUNetwork
from ..pipeline import (
    EXACT,
    Data,
    finish,
    fit_in_subspace,
    grow_subspace,
    linear_fallback,
    low_degree_subspace,
    validation_mse,
)
from ..report import Report
from ..subspace import random_unit_vectors

DEFAULTS = {
    "threshold": 4.0,  # eigenvalues count above threshold x their noise scale (ours)
    "max_stages": 4,  # discovery passes after the first (ours)
    "contractions_inside": 4,  # contraction vectors g drawn inside V per pass (ours)
    "contractions_outside": 16,  # ... and in the whole space (ours)
    "degrees": (4,),  # contraction degrees of the discovery passes
    "extra_dims": 2,  # V may exceed k by this many directions, with a warning (ours)
    "candidates": "moments",  # candidate directions inside V: "moments" or "net"
    "contractions": 6,  # contractions per candidate pool inside V (ours)
    "net_points": 360,  # sphere-net points added to the candidates when dim V <= 3 (ours)
    "net_eta": 0.1,  # eta-net spacing when candidates="net" (ours)
    "max_net": 100_000,  # largest eta-net we agree to search (ours)
    "restarts": 3,  # candidate pools / greedy runs inside V, best by held-out loss (ours)
    "fit_rows": 40_000,  # rows used inside V for the greedy fit (ours)
    "polish": True,  # local refinement (L-BFGS on the variable-projection loss)
    "step_iter": 25,  # L-BFGS iterations after each greedy step (ours)
    "refine_iter": 150,
    "polish_rows": 400_000,
    "polish_iter": 400,
    "collapse_tol": 0.0,
}


def auto(data: Data, k: int, rng: np.random.Generator, options: dict, report: Report) -> ReLUNetwork:
    """Our default (see the module docstring)."""
    d, z = data.d, options["threshold"]
    low, V = low_degree_subspace(data, k, z, report)
    model, fitted_dim = low.quadratic_model(), 0
    exact = EXACT * float(np.var(data.y_val))
    for _ in range(options["max_stages"]):
        if V.shape[1] > fitted_dim:
            model, fitted_dim = fit_in_subspace(data, V, k, rng, options, report), V.shape[1]
            if validation_mse(model, data) <= exact:
                break
        inside = random_unit_vectors(rng, options["contractions_inside"], V) if V.shape[1] else np.zeros((0, d))
        G = np.vstack([inside, random_unit_vectors(rng, options["contractions_outside"], np.eye(d))])
        grown = grow_subspace(data, V, k + options["extra_dims"], G, options["degrees"], model, z, report)
        if grown.shape[1] == V.shape[1]:
            break
        V = grown
    if V.shape[1] == 0:
        return linear_fallback(data, report)
    if V.shape[1] > k:
        report.warnings.append(f"the subspace grew to dimension {V.shape[1]} > k = {k} to correct the fit; "
                               f"the network still has at most {k} neurons")
    return finish(data, model, V, rng, options, report)
