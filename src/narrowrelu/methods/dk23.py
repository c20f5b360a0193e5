r"""``dk23``: Diakonikolas, Kane, *Efficiently learning one-hidden-layer ReLU networks via
Schur polynomials*, COLT 2024 (arXiv 2307.12840).

As reconstructed in docs/algorithms.md (constants marked ours are exposed as options)::

    V <- {}
    repeat:
        sketch the flattenings of T_l, l = 2, 4, ..., L = O(k), off V: T2 and the
        contractions M_l(g) with g drawn in the orthogonal complement of V
        add their significant directions to V
    until every moment of degree <= L is small off V (nothing significant is found)
    learn the low-dimensional function on V: eta-net + least squares; (ours) refinement.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import null_space

from ..pipeline import Data, finish, fit_in_subspace, grow_subspace, linear_fallback, low_degree_subspace
from ..report import Report
from ..subspace import random_unit_vectors
from .auto import DEFAULTS as AUTO

DEFAULTS = AUTO | {
    "degrees": (4, 6),  # even degrees up to L = O(k) (ours: L = 6)
    "contractions_outside": 6,  # sketch size per round (ours)
    "candidates": "net",
}


def dk23(data: Data, k: int, rng: np.random.Generator, options: dict, report: Report):
    low, V = low_degree_subspace(data, k, options["threshold"], report)
    for _ in range(options["max_stages"]):
        if V.shape[1] >= k:
            break
        G = random_unit_vectors(rng, options["contractions_outside"], null_space(V.T))
        grown = grow_subspace(data, V, k, G, options["degrees"], low.quadratic_model(), options["threshold"],
                              report)
        if grown.shape[1] == V.shape[1]:
            break
        V = grown
    if V.shape[1] == 0:
        return linear_fallback(data, report)
    return finish(data, fit_in_subspace(data, V, k, rng, options, report), V, rng, options, report)
