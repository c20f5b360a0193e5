r"""``dk23``: Diakonikolas, Kane, *Efficiently learning one-hidden-layer ReLU networks via
Schur polynomials*, COLT 2024 (arXiv 2307.12840).

As reconstructed in docs/algorithms.md (constants marked ours are exposed as options)::

    eta <- sqrt(epsilon) / 2  (ours; net_eta overrides)                     accuracy
    V <- significant eigen-directions of T2                                 (pass 1)
    repeat (at most max_stages rounds):
        sketch the flattenings of T_l, l = 2, 4, ..., L = O(k), off V: T2 and the
        contractions M_l(g) of y - q_V(x), g drawn in the orthogonal complement of V
        add their significant directions to V
    until every moment of degree <= L is small off V (nothing significant is found),
          dim V >= k, or V is all of R^d
    learn the low-dimensional function on V: eta-net + least squares; (ours) refinement.

``q_V`` is the degree-<=2 Hermite fit of y with T2 projected onto V (ours): the moments off V
are left as they are and the noise of what V explains leaves the sketches (see
:mod:`narrowrelu.methods.cn24`).

**Accuracy.** ``epsilon`` (the target relative error) sets the eta-net of the last step,
eta = sqrt(epsilon) / 2, about (16/epsilon)^((r-1)/2) points: the paper's (dk/epsilon)^O(k) is that
net. "Small off V" is judged against the noise (ours), not against epsilon.

**Where it falls short.** The stopping rule is only as good as the sketch: with a few random g
per round, a weak neuron's degree-l signal off V scales like <u, g>^(l-2) ~ d^-(l-2)/2 while the
noise does not, so at 500 d k rows "nothing significant" can be reached with V short of the
span (or empty, for the ``vanishing`` family); and the net is refused (``max_net``) from
dim V = 5 on at the default epsilon.
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
    options = options.resolved()  # eta = sqrt(epsilon) / 2
    low, V = low_degree_subspace(data, k, options.threshold, report)
    for _ in range(options.max_stages):
        if V.shape[1] >= min(k, data.d):  # k found, or V is all of R^d: nothing is left off V
            break
        G = random_unit_vectors(rng, options.contractions_outside, null_space(V.T))
        grown = grow_subspace(data, V, k, G, options.degrees, low.quadratic_model(span=V), options.threshold,
                              report)
        if grown.shape[1] == V.shape[1]:
            break
        V = grown
    if V.shape[1] == 0:
        return record(linear_fallback(data), report)
    rough = fit_in_subspace(data, V, k, rng, options, report, restarts=options.restarts,
                            neighbours=options.neighbours)
    return record(finish(data, rough.network, V, rng, options, report), report)
