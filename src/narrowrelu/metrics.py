r"""Exact population metrics and parameter recovery.

For unit :math:`u, v` at angle :math:`\theta` and :math:`x \sim N(0, I)` (docs/maths.md §2):

.. math::

   E[\mathrm{relu}\langle u,x\rangle\,\mathrm{relu}\langle v,x\rangle]
       = \frac{\sin\theta + (\pi - \theta)\cos\theta}{2\pi},\quad
   E[\mathrm{relu}\langle u,x\rangle\langle c,x\rangle] = \tfrac12\langle u, c\rangle,\quad
   E[\mathrm{relu}\langle u,x\rangle] = \frac{1}{\sqrt{2\pi}},

so the squared :math:`L^2(N(0, I))` distance between two networks is a small quadratic form.
With hidden biases :math:`p, q` the same holds with (:func:`relu_pair_moment`; :math:`\rho = \cos\theta`,
:math:`s = \sin\theta`, :math:`\varphi, \Phi` the normal pdf and cdf, :math:`\Phi_2` the bivariate normal cdf)

.. math::

   E[\mathrm{relu}(\langle u,x\rangle + p)\,\mathrm{relu}(\langle v,x\rangle + q)]
       &= (\rho + pq)\,\Phi_2(p, q; \rho) + q\,\varphi(p)\,\Phi\big(\tfrac{q - \rho p}{s}\big)
          + p\,\varphi(q)\,\Phi\big(\tfrac{p - \rho q}{s}\big)
          + s\,\varphi(p)\,\varphi\big(\tfrac{q - \rho p}{s}\big),\\
   E[\mathrm{relu}(\langle u,x\rangle + p)\langle c,x\rangle] &= \Phi(p)\,\langle u, c\rangle,\qquad
   E[\mathrm{relu}(\langle u,x\rangle + p)] = p\,\Phi(p) + \varphi(p),

(the first from the truncated bivariate normal moments; at :math:`p = q = 0` it is the arc-cosine kernel) and
:math:`\Phi_2` by Owen's T function (``scipy.special.owens_t``, absolute accuracy about 1e-16):
:math:`\Phi_2(h, k; \rho) = \tfrac12\Phi(h) + \tfrac12\Phi(k) - T(h, a_h) - T(k, a_k) - \delta`,
:math:`a_h = (k - \rho h)/(h s)`, :math:`a_k = (h - \rho k)/(k s)`, :math:`\delta = \tfrac12` when
:math:`hk < 0` or :math:`hk = 0 < -(h + k)`, else 0. Checked against 40-digit quadrature (mpmath) on
parallel, antiparallel, orthogonal and random angles with biases up to 30 in size: absolute error at
most about 1e-15 times :math:`\max(1, |pq|)`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import ndtr, owens_t

from .network import ReLUNetwork, angles_between

__all__ = [
    "population_mse",
    "relative_error",
    "second_moment",
    "variance",
    "relu_kernel",
    "relu_pair_moment",
    "relu_pair_derivatives",
    "relu_gram",
    "relu_mean",
    "relu_linear_moment",
    "NeuronMatch",
    "RecoveryReport",
    "recovery_report",
]

SQRT_2PI = math.sqrt(2.0 * math.pi)


def relu_kernel(theta: np.ndarray) -> np.ndarray:
    r""":math:`\kappa(\theta) = (\sin\theta + (\pi-\theta)\cos\theta) / (2\pi)`, the ReLU arc-cosine kernel."""
    return (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2.0 * np.pi)


def _pdf(t):
    with np.errstate(over="ignore"):  # far tails: exp(-inf) = 0
        return np.exp(-0.5 * t * t) / SQRT_2PI


def _ratio(numerator, s):
    """numerator / s for s >= 0: +-inf at s = 0, NaN at 0/0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / s


def _cdf_of_ratio(numerator, s):
    r""":math:`\Phi(\text{numerator}/s)` for :math:`s \ge 0`, with its limits at :math:`s = 0` (``1/2`` at 0/0)."""
    ratio = _ratio(numerator, s)
    return np.where(np.isnan(ratio), 0.5, ndtr(ratio))


def _bivariate_cdf(h, k, theta):
    r""":math:`\Phi_2(h, k; \cos\theta) = P(X \le h, Y \le k)`, by Owen's T (module docstring); exact at ρ = ±1."""
    h, k, theta = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (h, k, theta)))
    rho, s = np.cos(theta), np.sin(theta)
    one_minus_rho = 2.0 * np.sin(0.5 * theta) ** 2  # without cancellation near rho = 1

    def a(h, k):  # (k - rho h) / (h s), with its limits at h = 0
        at_zero = np.where(k == 0, _ratio(one_minus_rho, s), np.copysign(np.inf, k))
        return np.where(h == 0, at_zero, _ratio((k - h) + h * one_minus_rho, h * s))

    # The -delta = -1/2 is folded into the larger argument, 1/2 Phi(h) - 1/2 = -1/2 Phi(-h), so that a
    # small Phi_2 is not the difference of two numbers near 1/2.
    mixed = (h * k < 0) | ((h * k == 0) & (h + k < 0))
    half = lambda h, larger: np.where(mixed & larger, -0.5 * ndtr(-h), 0.5 * ndtr(h))  # noqa: E731
    general = half(h, h >= k) + half(k, k > h) - owens_t(h, a(h, k)) - owens_t(k, a(k, h))
    parallel = np.where(rho > 0, ndtr(np.minimum(h, k)), np.maximum(ndtr(h) - ndtr(-k), 0.0))
    return np.clip(np.where(s > 0, general, parallel), 0.0, 1.0)


def _pair_parts(theta, p, q):
    r"""The pieces of the biased pair moment, broadcast, with their limits at s = 0.

    :math:`\rho, p, q, \Phi_2, \Phi(\frac{q-\rho p}{s}), \Phi(\frac{p-\rho q}{s})` and
    :math:`s\varphi(p)\varphi(\frac{q-\rho p}{s})`.
    """
    theta, p, q = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (theta, p, q)))
    rho, s = np.cos(theta), np.sin(theta)
    one_minus_rho = 2.0 * np.sin(0.5 * theta) ** 2
    qx, px = (q - p) + p * one_minus_rho, (p - q) + q * one_minus_rho  # q - rho p and p - rho q
    tail = np.where(s > 0, s * _pdf(p) * _pdf(np.where(s > 0, _ratio(qx, s), 0.0)), 0.0)
    return rho, p, q, _bivariate_cdf(p, q, theta), _cdf_of_ratio(qx, s), _cdf_of_ratio(px, s), tail


def relu_pair_moment(theta, p, q) -> np.ndarray:
    r""":math:`E[\mathrm{relu}(\langle u,x\rangle + p)\,\mathrm{relu}(\langle v,x\rangle + q)]`, unit u, v at angle θ.

    The closed form of the module docstring, elementwise over broadcast ``theta``, ``p``, ``q``;
    exact for parallel (θ = 0) and antiparallel (θ = π) units too. At ``p = q = 0`` it is
    :func:`relu_kernel`.
    """
    rho, p, q, cdf2, cdf_x, cdf_y, tail = _pair_parts(theta, p, q)
    return (rho + p * q) * cdf2 + q * _pdf(p) * cdf_x + p * _pdf(q) * cdf_y + tail


def relu_pair_derivatives(theta, p, q) -> tuple[np.ndarray, np.ndarray]:
    r"""The partial derivatives of :func:`relu_pair_moment` :math:`K(\rho, p, q)` in p and in :math:`\rho = \cos\theta`.

    .. math:: \partial_p K = E[1\{X > -p\}\,\mathrm{relu}(Y + q)]
              = \varphi(q)\,\Phi\big(\tfrac{p - \rho q}{s}\big) + \rho\,\varphi(p)\,\Phi\big(\tfrac{q - \rho p}{s}\big)
                + q\,\Phi_2(p, q; \rho),\qquad
              \partial_\rho K = E[1\{X > -p\}1\{Y > -q\}] = \Phi_2(p, q; \rho)

    (the second by Price's theorem); elementwise over broadcast arguments.
    """
    rho, p, q, cdf2, cdf_x, cdf_y, _ = _pair_parts(theta, p, q)
    return _pdf(q) * cdf_y + rho * _pdf(p) * cdf_x + q * cdf2, cdf2


def relu_mean(beta) -> np.ndarray:
    r""":math:`E[\mathrm{relu}(z + \beta)] = \beta\Phi(\beta) + \varphi(\beta)`, z ~ N(0, 1), elementwise."""
    beta = np.asarray(beta, dtype=np.float64)
    return beta * ndtr(beta) + _pdf(beta)


def _scaled(A, p):
    """Row norms of A and the scale-free biases p/|a| (0 where a row is zero)."""
    A, p = np.asarray(A, dtype=np.float64), np.asarray(p, dtype=np.float64)
    norms = np.linalg.norm(A, axis=1)
    return A, p, norms, np.divide(p, norms, out=np.zeros_like(p), where=norms > 0)


def relu_linear_moment(A, p, C) -> np.ndarray:
    r""":math:`E[\mathrm{relu}(\langle a_i, x\rangle + p_i)\langle c_j, x\rangle]
    = \Phi(p_i / |a_i|)\langle a_i, c_j\rangle`.

    ``A`` (k, d) rows of any norm (zero rows give 0), ``p`` (k,), ``C`` (m, d); returns (k, m).
    """
    A, p, norms, beta = _scaled(A, p)
    return (ndtr(beta) * (norms > 0))[:, None] * (A @ np.asarray(C, dtype=np.float64).T)


def relu_gram(A, p, B, q) -> np.ndarray:
    r"""The matrix :math:`E[\mathrm{relu}(\langle a_i, x\rangle + p_i)\,\mathrm{relu}(\langle b_j, x\rangle + q_j)]`.

    Rows of ``A`` (k, d) and ``B`` (m, d) may have any norm, zero included
    (:math:`\mathrm{relu}(\langle 0, x\rangle + p) = \mathrm{relu}(p)`); ``p`` (k,), ``q`` (m,). By
    homogeneity it is :math:`|a||b|` times :func:`relu_pair_moment` at the angle of ``a, b`` and the
    biases ``p/|a|, q/|b|``.
    """
    A, p, na, pa = _scaled(A, p)
    B, q, nb, qb = _scaled(B, q)
    safe = lambda M, n: np.where((n > 0)[:, None], M, np.eye(1, M.shape[1]))  # noqa: E731
    K = na[:, None] * nb[None, :] * relu_pair_moment(angles_between(safe(A, na), safe(B, nb)), pa[:, None], qb[None, :])
    mean_a = np.where(na > 0, na * relu_mean(pa), np.maximum(p, 0.0))
    mean_b = np.where(nb > 0, nb * relu_mean(qb), np.maximum(q, 0.0))
    K = np.where((na == 0)[:, None], np.maximum(p, 0.0)[:, None] * mean_b[None, :], K)
    return np.where((nb == 0)[None, :], mean_a[:, None] * np.maximum(q, 0.0)[None, :], K)


def _check_network(net, name: str) -> ReLUNetwork:
    if not isinstance(net, ReLUNetwork):
        raise ValueError(f"{name} must be a ReLUNetwork, got {type(net).__name__}")
    return net


def _linear(net: ReLUNetwork) -> np.ndarray:
    return np.zeros(net.d) if net.linear is None else net.linear


def second_moment(net: ReLUNetwork) -> float:
    r""":math:`E_{x \sim N(0, I)}[f(x)^2]` in closed form, hidden biases included."""
    net = _check_network(net, "net")
    w, U, c, b = net.weights, net.directions, _linear(net), net.intercept
    if net.biases is None:  # the arc-cosine kernel, E relu = 1/sqrt(2 pi), E[relu <c, x>] = <u, c>/2
        quadratic = w @ relu_kernel(angles_between(U, U)) @ w if net.k else 0.0
        cross = w @ (U @ c) + 2.0 * b * w.sum() / SQRT_2PI
    else:
        beta = net.biases
        quadratic = w @ relu_gram(U, beta, U, beta) @ w if net.k else 0.0
        cross = 2.0 * (w @ relu_linear_moment(U, beta, c[None, :])[:, 0]) + 2.0 * b * (w @ relu_mean(beta))
    return max(float(quadratic + cross + c @ c + b * b), 0.0)


def _mean(net: ReLUNetwork) -> float:
    if net.biases is None:
        return float(net.weights.sum() / SQRT_2PI + net.intercept)
    return float(net.weights @ relu_mean(net.biases) + net.intercept)


def variance(net: ReLUNetwork) -> float:
    r""":math:`\mathrm{Var}_{x \sim N(0, I)} f(x)` in closed form."""
    return max(second_moment(net) - _mean(net) ** 2, 0.0)


def _biases(net: ReLUNetwork) -> np.ndarray:
    return np.zeros(net.k) if net.biases is None else net.biases


def _difference(a: ReLUNetwork, b: ReLUNetwork) -> ReLUNetwork:
    linear = None if a.linear is None and b.linear is None else _linear(a) - _linear(b)
    biases = None if a.biases is None and b.biases is None else np.concatenate([_biases(a), _biases(b)])
    return ReLUNetwork(
        np.concatenate([a.weights, -b.weights]),
        np.vstack([a.directions, b.directions]),
        linear,
        a.intercept - b.intercept,
        biases,
    )


def population_mse(a: ReLUNetwork, b: ReLUNetwork) -> float:
    r"""Exact :math:`E_{x \sim N(0, I_d)}[(a(x) - b(x))^2]`, linear terms and intercepts included.

    Parameters
    ----------
    a, b : ReLUNetwork
        Networks on the same input dimension.

    Returns
    -------
    float

    Examples
    --------
    >>> from narrowrelu import ReLUNetwork
    >>> a = ReLUNetwork([1.0], [[1.0, 0.0]])
    >>> round(population_mse(a, ReLUNetwork.zero(2)), 12)  # E[relu(z)^2] = 1/2
    0.5
    """
    a, b = _check_network(a, "a"), _check_network(b, "b")
    if a.d != b.d:
        raise ValueError(f"networks have different input dimensions: a.d={a.d}, b.d={b.d}")
    return second_moment(_difference(a, b))


def relative_error(estimate: ReLUNetwork, truth: ReLUNetwork) -> float:
    r"""Exact relative population error :math:`E[(\hat f - f)^2] / \mathrm{Var} f`.

    Raises ``ValueError`` when ``truth`` is constant (zero variance).
    """
    var = variance(_check_network(truth, "truth"))
    if var <= 0.0:
        raise ValueError("truth has zero variance: relative error is undefined; use population_mse")
    return population_mse(estimate, truth) / var


@dataclass
class NeuronMatch:
    """One matched pair of neurons (indices into the collapsed networks).

    ``angle`` is between the augmented unit rows :math:`(u, \beta)/|(u, \beta)|`; weights and
    biases are those of the unit-direction form; ``bias_error`` compares the estimate's bias with
    the truth's, negated when the pair is ``flipped``.
    """

    truth_index: int
    estimate_index: int
    angle: float
    flipped: bool
    truth_weight: float
    estimate_weight: float
    weight_error: float
    truth_bias: float = 0.0
    estimate_bias: float = 0.0
    bias_error: float = 0.0


@dataclass
class RecoveryReport:
    """Neuron-level comparison of an estimate with the truth (see :func:`recovery_report`)."""

    matches: list[NeuronMatch] = field(default_factory=list)
    unmatched_truth: list[int] = field(default_factory=list)
    unmatched_estimate: list[int] = field(default_factory=list)
    collapse_tol: float = 0.0
    relative_error: float = float("nan")

    @property
    def max_angle(self) -> float:
        """Largest angle between matched neurons (radians); ``inf`` if a neuron is unmatched."""
        if self.unmatched_truth or self.unmatched_estimate:
            return float("inf")
        return max((m.angle for m in self.matches), default=0.0)

    def to_dict(self) -> dict:
        return asdict(self) | {"max_angle": self.max_angle}


def recovery_report(
    estimate: ReLUNetwork, truth: ReLUNetwork, collapse_tol: float = 1e-3
) -> RecoveryReport:
    r"""Match the neurons of ``estimate`` to those of ``truth`` by direction and bias.

    Both networks are first collapsed at angle ``collapse_tol``. Each neuron is the unit row
    :math:`a = (u, \beta)/|(u, \beta)|` on the augmented input :math:`(x, 1)`
    (:meth:`~narrowrelu.ReLUNetwork.augmented`; :math:`(u, 0)` without biases), which fixes the
    ReLU's positive scale. Neurons are then matched by the Hungarian algorithm on the angle
    :math:`\min(\angle(a, a'), \angle(a, -a'))`: the flip :math:`(u, \beta) \to (-u, -\beta)` is allowed
    because :math:`w\,\mathrm{relu}(-t) = w\,\mathrm{relu}(t) - w t` differs only by a linear term and
    a constant (which the estimate may carry explicitly).

    Returns
    -------
    RecoveryReport
        Per matched pair the angle, whether it is flipped, both weights and their difference;
        the indices left unmatched when the widths differ; and the exact relative error.
    """
    a = _check_network(estimate, "estimate").collapse(collapse_tol)
    t = _check_network(truth, "truth").collapse(collapse_tol)
    report = RecoveryReport(collapse_tol=collapse_tol)
    try:
        report.relative_error = relative_error(estimate, truth)
    except ValueError:
        pass
    if a.k and t.k:
        angles = angles_between(t.augmented()[1], a.augmented()[1])
        flipped = np.pi - angles < angles
        cost = np.minimum(angles, np.pi - angles)
        rows, cols = linear_sum_assignment(cost)
        tb, ab = _biases(t), _biases(a)
        for i, j in zip(rows, cols, strict=True):
            sign = -1.0 if flipped[i, j] else 1.0
            report.matches.append(
                NeuronMatch(
                    int(i), int(j), float(cost[i, j]), bool(flipped[i, j]),
                    float(t.weights[i]), float(a.weights[j]), float(a.weights[j] - t.weights[i]),
                    float(tb[i]), float(ab[j]), float(ab[j] - sign * tb[i]),
                )
            )
    matched_t = {m.truth_index for m in report.matches}
    matched_a = {m.estimate_index for m in report.matches}
    report.unmatched_truth = [i for i in range(t.k) if i not in matched_t]
    report.unmatched_estimate = [j for j in range(a.k) if j not in matched_a]
    return report
