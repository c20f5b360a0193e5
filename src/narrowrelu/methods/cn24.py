r"""``cn24``: Chen, Narayanan, *A faster and simpler algorithm for learning shallow networks*,
COLT 2024 (arXiv 2307.12496) — the one-stage version.

As reconstructed in docs/algorithms.md (constants marked ours are exposed as options)::

    eta <- sqrt(epsilon) / 2  (ours; net_eta overrides)         accuracy
    T2 <- moments of y                                          (pass 1)
    V <- significant eigen-directions of T2
    all contractions at once: g_1..g_p uniform on the sphere,
        T2 and M_l(g_j), every even l in degrees, of y - q_V(x)  (pass 2)
    V <- top eigenspace of the sum of projectors onto the significant
         eigen-directions of T2 and of every M_l(g_j)
    final step: an eta-net of the unit sphere of V as a dictionary; least squares with
    greedy sparsification to k neurons (improper -> proper); (ours) local refinement.

``q_V`` is the degree-<=2 Hermite fit of y with T2 projected onto V (ours): it leaves every
moment of degree >= 3 and T2 off V as they are and removes from pass 2 the noise of what V
already explains. (Subtracting the whole T2 instead removed the signal of the directions pass 1
missed, so pass 2 could never find a weak neuron by T2.)

**Accuracy.** ``epsilon`` is the target relative error E[(f_hat - f)^2] / Var f. It enters
through the final step, as in the paper: the eta-net has about (2/eta)^(r-1) =
(16/epsilon)^((r-1)/2) points, 99% of the sphere lies within (pi/2) eta of one (measured), and moving a
neuron by that angle costs at most about 0.9 epsilon of its variance (docs/maths.md, collapse
lemma). The thresholds are noise-calibrated
(ours), not functions of epsilon: with the rows given, a direction below the noise cannot be
seen whatever epsilon asks. The refinement (``polish``, ours) goes past epsilon when it converges;
``polish=False`` returns the paper's least-squares estimate.

**Where it falls short.** The paper's guarantee needs poly(d, 1/epsilon)^O(k^2) samples; at
500 d k rows the contractions with random g see a neuron at <u, g>^2 ~ 1/d, so weak neurons
beside strong ones can stay below the noise, and V misses them; a planar structure whose
moments vanish below degree 4 (the ``vanishing`` family) is seen at |P g|^2 ~ 2/d only, and
then nothing is found at all (the linear fallback). The net is exponential in dim V: at the
default epsilon it is refused (``max_net``) from dim V = 5 on, a coarser epsilon moves the
limit (epsilon = 0.16: dim V = 6).
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
    options = options.resolved()  # eta = sqrt(epsilon) / 2
    low, V = low_degree_subspace(data, k, options.threshold, report)
    G = random_unit_vectors(rng, options.contractions_outside, np.eye(data.d))
    V = grow_subspace(data, V, k, G, options.degrees, low.quadratic_model(span=V), options.threshold, report)
    if V.shape[1] == 0:
        return record(linear_fallback(data), report)
    rough = fit_in_subspace(data, V, k, rng, options, report, restarts=options.restarts,
                            neighbours=options.neighbours)
    return record(finish(data, rough.network, V, rng, options, report), report)
