r"""``auto``: noise-calibrated iterative subspace discovery, Jennrich + greedy inside it, polish.

Our default, built from the shared stages (DESIGN §4)::

    T2 <- moments of y                                    (pass 1)
    V  <- eigen-directions of T2 above threshold * noise
    model <- degree-<=2 Hermite fit of y
    repeat (CDG+23's iterative discovery):
        if V grew: model <- k neurons inside V            (Jennrich / greedy / refine)
        if dim V = k: stop
        T2, M4(g) <- moments of the residual y - model(x) (one pass; g drawn inside V and
                     in the whole space)
        V <- V + significant directions of T2, M4(g) off V
        stop when nothing new is found
    polish in R^d, resolve signs, collapse                (stage D)

Residualising on the current model is what makes the later passes sensitive: their noise
scale is that of the residual, not of y (DESIGN §2).
"""

from __future__ import annotations

import numpy as np

from .. import moments
from ..network import ReLUNetwork
from ..pipeline import Data, finish, fit_in_subspace, fit_output_only, moment_pass
from ..report import Report
from ..subspace import merge_directions, random_unit_vectors, significant_directions

DEFAULTS = {
    "threshold": 4.0,  # eigenvalues count above threshold x their noise scale (ours)
    "max_stages": 4,  # discovery passes after the first (ours)
    "contractions_inside": 4,  # contraction vectors g drawn inside V per pass (ours)
    "contractions_outside": 4,  # ... and in the whole space (ours)
    "degrees": (4,),  # contraction degrees of the discovery passes
    "contractions": 6,  # contractions per candidate pool inside V (ours)
    "restarts": 3,  # candidate pools / greedy runs inside V, best by held-out loss (ours)
    "fit_rows": 40_000,  # rows used inside V for the greedy fit (ours)
    "step_iter": 25,  # L-BFGS iterations after each greedy step (ours)
    "refine_iter": 150,
    "polish_rows": 400_000,
    "polish_iter": 400,
    "net_points": 360,  # size of the sphere net added to the candidates when dim V <= 3 (ours)
    "collapse_tol": 0.0,
}


def auto(data: Data, k: int, rng: np.random.Generator, options: dict, report: Report) -> ReLUNetwork:
    d, z = data.d, options["threshold"]
    rows = moments.batch_rows_for(len(data.y))
    low = moment_pass(data, moments.MomentSpec(d=d, batch_rows=rows), report, "moments")
    V, mu = significant_directions(low.T2, low.T2_noise(), z, np.zeros((d, 0)))
    V = merge_directions(np.zeros((d, 0)), [V], max_dim=k)
    report.add("subspace", 0.0, found=V.shape[1], eigenvalues=mu, noise=low.T2_noise(), threshold=z)
    model, fitted_dim = low.quadratic_model(), 0
    for _ in range(options["max_stages"]):
        if V.shape[1] > fitted_dim:
            model, fitted_dim = fit_in_subspace(data, V, k, rng, options, report), V.shape[1]
        if V.shape[1] >= k:
            break
        inside = random_unit_vectors(rng, options["contractions_inside"], V) if V.shape[1] else np.zeros((0, d))
        G = np.vstack([inside, random_unit_vectors(rng, options["contractions_outside"], np.eye(d))])
        spec = moments.MomentSpec(d=d, degrees=tuple(options["degrees"]), directions=G, batch_rows=rows,
                                  residual=model)
        m = moment_pass(data, spec, report, "moments")
        found = [significant_directions(m.T2, m.T2_noise(), z, V)]
        noise = m.M_noise()
        found += [significant_directions(m.M[i, j], noise[i, j], z, V)
                  for i in range(len(spec.degrees)) for j in range(len(G))]
        grown = merge_directions(V, [f[0] for f in found], max_dim=k)
        report.add("subspace", 0.0, found=grown.shape[1] - V.shape[1],
                   eigenvalues=[float(f[1][0]) for f in found if len(f[1])], noise=m.T2_noise(), threshold=z)
        if grown.shape[1] == V.shape[1]:
            break
        V = grown
    if not isinstance(model, ReLUNetwork):
        report.warnings.append("no significant direction found: returning the best linear model")
        return fit_output_only(data, np.eye(d)) if np.any(np.abs(low.T1) > 0) else ReLUNetwork.zero(d)
    return finish(data, model, V, options, report)
