r"""High dimension: which contractions of a discovery pass can see anything, predicted from pass 1.

A contraction :math:`M_\ell(g) = T_\ell(g, \dots, g, \cdot, \cdot)` with :math:`g` drawn in the whole
space sees a hidden direction :math:`u` at :math:`\langle u, g\rangle^{\ell-2} \sim d^{-(\ell-2)/2}`
(docs/algorithms.md, "High dimension"). For a target that is a sum of :math:`k` ridge functions,
:math:`T_\ell = \sum_i c_i u_i^{\otimes\ell}` with :math:`\sum_i c_i^2 \approx \ell!\,E[r_\ell^2] \le \ell!\,
\mathrm{Var}(t)` (Parseval, near-orthogonal :math:`u_i`), so the operator norm of every one of ``p``
contractions is at most

.. math:: s_\ell = \sqrt{k\,\ell!\,\mathrm{Var}(t)}\;\Big(\frac{2\ln(2pk)}{d}\Big)^{(\ell-2)/2}

(Cauchy-Schwarz over the neurons; :math:`\max |\langle u_i, g_j\rangle| \le \sqrt{2\ln(2pk)/d}` for
the :math:`pk` Gaussian-like projections), while its noise scale is that of :math:`T_2` times
:math:`\sqrt{E[\mathrm{He}_{\ell-2}(s)^2]} = \sqrt{(\ell-2)!}`. Both scale with the size of the target,
so pass 1 predicts the ratio for every later residual: with :math:`\sigma_2` the noise scale of
:math:`T_2` of ``y`` and :math:`\mathrm{Var}(y)` from pass 1, the contractions in the whole space can
clear ``threshold`` only if

.. math:: \frac{s_\ell}{\sqrt{(\ell-2)!}\,\sigma_2} > \text{threshold}

for some degree :math:`\ell` of the pass. The ratio falls like :math:`\sqrt{n}/d^{3/2}` (for
:math:`\ell = 4`, :math:`\sigma_2 \approx 2\sqrt{\mathrm{Var}(y)\,d/n}`): at d = 400 and 48 000 rows it
is about 0.8, at d = 1000 and 96 000 rows about 0.3, against a threshold of 4. The prediction is
used from ``AutoOptions.high_dim_features`` features on (ours, 256): a pass's cost is about
:math:`(p + 3)` weighted Gram matrices (:math:`n d^2/2` flops each) and :math:`O(B p d^3)` in its
noise scales, so every contraction dropped saves about one Gram pass, and below that size the
passes (and every benchmark with d <= 200) are left as they were.
"""

from __future__ import annotations

import math

from . import moments

__all__ = ["outside_signal_to_noise", "outside_visible"]


def outside_signal_to_noise(low: moments.Moments, d: int, k: int, degree: int, p: int) -> float:
    r"""The bound :math:`s_\ell / (\sqrt{(\ell-2)!}\,\sigma_2)` of the module docstring, from pass 1 ``low``."""
    variance = max(low.second_moment - low.T0**2, 0.0)
    signal = math.sqrt(k * math.factorial(degree) * variance) * (2 * math.log(2 * p * k) / d) ** ((degree - 2) / 2)
    noise = math.sqrt(math.factorial(degree - 2)) * low.T2_noise()
    return signal / noise if noise > 0 else math.inf


def outside_visible(low: moments.Moments, d: int, k: int, degrees: tuple[int, ...], p: int, threshold: float,
                    high_dim_features: int) -> tuple[bool, float | None]:
    """Whether contractions drawn in the whole space can clear ``threshold``, and the largest bound over
    ``degrees``; below ``high_dim_features`` features always true (and nothing computed: None)."""
    if d < high_dim_features:
        return True, None
    ratio = max(outside_signal_to_noise(low, d, k, degree, p) for degree in degrees)
    return ratio > threshold, ratio
