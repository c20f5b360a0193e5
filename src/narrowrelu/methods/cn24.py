r"""``cn24``: Chen, Narayanan, *A faster and simpler algorithm for learning shallow networks*,
COLT 2024 (arXiv 2307.12496) — the one-stage version.

As reconstructed in docs/algorithms.md (constants marked ours are exposed as options)::

    T2 <- moments of y                                          (pass 1)
    all contractions at once: g_1..g_p uniform on the sphere,
        M_l(g_j) for every even l in degrees                    (pass 2)
    V <- top eigenspace of the sum of projectors onto the significant
         eigen-directions of T2 and of every M_l(g_j)
    final step: an eta-net of the unit sphere of V as a dictionary; least squares with
    greedy sparsification to k neurons (improper -> proper); (ours) local refinement.
"""

from __future__ import annotations

import numpy as np

from ..pipeline import Data, finish, fit_in_subspace, grow_subspace, linear_fallback, low_degree_subspace
from ..report import Report
from ..subspace import random_unit_vectors
from .auto import DEFAULTS as AUTO

DEFAULTS = AUTO | {
    "degrees": (4, 6),  # the even degrees l <= L = O(k) contracted at once (ours: L = 6)
    "contractions_outside": 8,  # p, the number of random g (ours)
    "candidates": "net",
}


def cn24(data: Data, k: int, rng: np.random.Generator, options: dict, report: Report):
    low, V = low_degree_subspace(data, k, options["threshold"], report)
    G = random_unit_vectors(rng, options["contractions_outside"], np.eye(data.d))
    V = grow_subspace(data, V, k, G, options["degrees"], low.quadratic_model(), options["threshold"], report)
    if V.shape[1] == 0:
        return linear_fallback(data, report)
    return finish(data, fit_in_subspace(data, V, k, rng, options, report), V, rng, options, report)
