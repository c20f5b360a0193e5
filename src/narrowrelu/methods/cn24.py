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

from ..forms import finish, linear_fallback
from ..inside import fit_in_subspace
from ..options import CN24Options
from ..pipeline import Data
from ..report import Report
from ..selection import record
from ..subspace import grow_subspace, low_degree_subspace, random_unit_vectors


def cn24(data: Data, k: int, rng: np.random.Generator, options: CN24Options, report: Report):
    options = options.resolved()  # eta = 2 sqrt(epsilon)
    low, V = low_degree_subspace(data, k, options.threshold, report)
    G = random_unit_vectors(rng, options.contractions_outside, np.eye(data.d))
    V = grow_subspace(data, V, k, G, options.degrees, low.quadratic_model(), options.threshold, report)
    if V.shape[1] == 0:
        return record(linear_fallback(data), report)
    rough = fit_in_subspace(data, V, k, rng, options, report)
    return record(finish(data, rough.network, V, rng, options, report), report)
