r"""``dk23``: Diakonikolas, Kane, *Efficiently learning one-hidden-layer ReLU networks via
Schur polynomials*, COLT 2024 (arXiv 2307.12840).

As reconstructed in docs/algorithms.md (constants marked ours are exposed as options)::

    V <- {}
    repeat:
        sketch the flattenings of T_l, l = 2, 4, ..., L = O(k), off V: T2 and the
        contractions M_l(g) with g drawn in the orthogonal complement of V
        add their significant directions to V
    until every moment of degree <= L is small off V (nothing significant is found),
          dim V >= k, or V is all of R^d
    learn the low-dimensional function on V: eta-net + least squares; (ours) refinement.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import null_space

from ..forms import finish, linear_fallback
from ..inside import fit_in_subspace
from ..options import DK23Options
from ..pipeline import Data
from ..report import Report
from ..selection import record
from ..subspace import grow_subspace, low_degree_subspace, random_unit_vectors


def dk23(data: Data, k: int, rng: np.random.Generator, options: DK23Options, report: Report):
    options = options.resolved()  # eta = 2 sqrt(epsilon)
    low, V = low_degree_subspace(data, k, options.threshold, report)
    for _ in range(options.max_stages):
        if V.shape[1] >= min(k, data.d):  # k found, or V is all of R^d: nothing is left off V
            break
        G = random_unit_vectors(rng, options.contractions_outside, null_space(V.T))
        grown = grow_subspace(data, V, k, G, options.degrees, low.quadratic_model(), options.threshold,
                              report)
        if grown.shape[1] == V.shape[1]:
            break
        V = grown
    if V.shape[1] == 0:
        return record(linear_fallback(data), report)
    rough = fit_in_subspace(data, V, k, rng, options, report)
    return record(finish(data, rough.network, V, rng, options, report), report)
