r"""``cdgkm23``: Chen, Dou, Goel, Klivans, Meka, *Learning Narrow One-Hidden-Layer ReLU
Networks*, COLT 2023 (arXiv 2304.10524) — iterative, multi-scale discovery.

As reconstructed in docs/algorithms.md (the paper's constants are not ours to read; those below are
ours and exposed as options)::

    eta <- sqrt(epsilon) / 2;  S <- fewest scales with eta_S <= eta   accuracy (ours)
    V <- significant eigen-directions of T2                       (scale 0)
    for s = 1, 2, ..., S while dim V < k and V is not all of R^d:
        V <- V + the directions of T2 above tau_s
        draw g orthogonal to V (to find new directions) and inside V (for SNR)
        for each even l <= L_s (T2 for l = 2) of y - q_V(x): eigen-directions off V with
        |mu| > tau_s noise; add them to V, collapsing directions closer than the scale eta_s
        if nothing was added at the smallest threshold: stop
        tau_{s+1} = shrink tau_s,  eta_{s+1} = shrink eta_s,  L_{s+1} = L_s + 2
    final fit over V: an eta-net of its unit sphere, least squares (greedy selection of k
    net directions), then (ours, ``polish=True``) local refinement; collapse; signs.

``q_V`` is the degree-<=2 Hermite fit of y with T2 projected onto V (ours; see
:mod:`narrowrelu.methods.cn24`).

**Accuracy.** ``epsilon`` is the target relative error. The scales eta_s = scale * shrink^s
continue until they reach the eta-net's spacing sqrt(epsilon) / 2 (``max_stages`` overrides):
neurons closer than the finest scale are one neuron for the net, and merging two at angle eta
moves each by eta/2, about 0.1 epsilon of its variance (docs/maths.md, collapse lemma). At the default
epsilon that is the 6 scales of before. The thresholds tau_s are noise-calibrated (ours).

**Where it falls short.** The paper's multi-scale analysis resolves close and cancelling
neurons given poly(d/epsilon)^quasipoly(k) samples; at 500 d k rows the scales stop when no
contraction clears tau_s, and the net is refused (``max_net``) from dim V = 5 on at the
default epsilon, so it runs only where k <= 4 (or a coarser epsilon).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import null_space

from ..forms import finish, linear_fallback
from ..inside import fit_in_subspace
from ..options import CDGKM23Options
from ..pipeline import Data
from ..report import Report
from ..selection import record
from ..subspace import (
    grow_subspace,
    low_degree_subspace,
    merge_directions,
    random_unit_vectors,
    significant_directions,
)


def cdgkm23(data: Data, k: int, rng: np.random.Generator, options: CDGKM23Options, report: Report):
    options = options.resolved()  # eta = sqrt(epsilon) / 2, scales S(epsilon)
    low, V = low_degree_subspace(data, k, options.threshold, report)
    tau, eta, L = options.threshold, options.scale, 4
    for _ in range(options.max_stages):
        if V.shape[1] >= min(k, data.d):  # k found, or V is all of R^d: nothing is left off V
            break
        collapse = eta / math.sqrt(2)  # two unit vectors at angle eta have singular values ~ eta/sqrt 2
        V = merge_directions(V, [significant_directions(low.T2, low.T2_noise(), tau, V)[0]], k, collapse)
        outside = random_unit_vectors(rng, options.contractions_outside, null_space(V.T))
        inside = random_unit_vectors(rng, options.contractions_inside, V) if V.shape[1] else outside[:0]
        grown = grow_subspace(data, V, k, np.vstack([outside, inside]), tuple(range(4, L + 1, 2)),
                              low.quadratic_model(span=V), tau, report, min_singular=collapse)
        if grown.shape[1] == V.shape[1] and tau <= options.min_threshold:
            break
        V = grown
        tau = max(options.shrink * tau, options.min_threshold)
        eta, L = options.shrink * eta, min(L + 2, options.max_degree)
    if V.shape[1] == 0:
        return record(linear_fallback(data), report)
    rough = fit_in_subspace(data, V, k, rng, options, report, restarts=options.restarts,
                            neighbours=options.neighbours)
    return record(finish(data, rough.network, V, rng, options, report), report)
