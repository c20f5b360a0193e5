r"""Exact population metrics and parameter recovery.

For unit :math:`u, v` at angle :math:`\theta` and :math:`x \sim N(0, I)` (docs/maths.md §2):

.. math::

   E[\mathrm{relu}\langle u,x\rangle\,\mathrm{relu}\langle v,x\rangle]
       = \frac{\sin\theta + (\pi - \theta)\cos\theta}{2\pi},\quad
   E[\mathrm{relu}\langle u,x\rangle\langle c,x\rangle] = \tfrac12\langle u, c\rangle,\quad
   E[\mathrm{relu}\langle u,x\rangle] = \frac{1}{\sqrt{2\pi}},

so the squared :math:`L^2(N(0, I))` distance between two networks is a small quadratic form.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .network import ReLUNetwork, angles_between

__all__ = [
    "population_mse",
    "relative_error",
    "second_moment",
    "variance",
    "relu_kernel",
    "NeuronMatch",
    "RecoveryReport",
    "recovery_report",
]


def relu_kernel(theta: np.ndarray) -> np.ndarray:
    r""":math:`\kappa(\theta) = (\sin\theta + (\pi-\theta)\cos\theta) / (2\pi)`, the ReLU arc-cosine kernel."""
    return (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2.0 * np.pi)


def _check_network(net, name: str) -> ReLUNetwork:
    if not isinstance(net, ReLUNetwork):
        raise ValueError(f"{name} must be a ReLUNetwork, got {type(net).__name__}")
    if net.biases is not None:
        raise ValueError(f"{name} has hidden biases: the closed forms assume bias-free neurons on N(0, I) inputs; "
                         "compare networks in standardized coordinates (narrowrelu.standardize.to_standard)")
    return net


def _linear(net: ReLUNetwork) -> np.ndarray:
    return np.zeros(net.d) if net.linear is None else net.linear


def second_moment(net: ReLUNetwork) -> float:
    r""":math:`E_{x \sim N(0, I)}[f(x)^2]` in closed form."""
    net = _check_network(net, "net")
    w, U, c, b = net.weights, net.directions, _linear(net), net.intercept
    quadratic = w @ relu_kernel(angles_between(U, U)) @ w if net.k else 0.0
    cross = w @ (U @ c) + 2.0 * b * w.sum() / math.sqrt(2.0 * math.pi)
    return max(float(quadratic + cross + c @ c + b * b), 0.0)


def _mean(net: ReLUNetwork) -> float:
    return float(net.weights.sum() / math.sqrt(2.0 * math.pi) + net.intercept)


def variance(net: ReLUNetwork) -> float:
    r""":math:`\mathrm{Var}_{x \sim N(0, I)} f(x)` in closed form."""
    return max(second_moment(net) - _mean(net) ** 2, 0.0)


def _difference(a: ReLUNetwork, b: ReLUNetwork) -> ReLUNetwork:
    linear = None if a.linear is None and b.linear is None else _linear(a) - _linear(b)
    return ReLUNetwork(
        np.concatenate([a.weights, -b.weights]),
        np.vstack([a.directions, b.directions]),
        linear,
        a.intercept - b.intercept,
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
    """One matched pair of neurons (indices into the collapsed networks)."""

    truth_index: int
    estimate_index: int
    angle: float
    flipped: bool
    truth_weight: float
    estimate_weight: float
    weight_error: float


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
    r"""Match the neurons of ``estimate`` to those of ``truth``.

    Both networks are first collapsed at angle ``collapse_tol``. Neurons are then matched by
    the Hungarian algorithm on the angle :math:`\min(\angle(u, v), \angle(u, -v))`: the flip
    :math:`u \to -u` is allowed because :math:`w\,\mathrm{relu}(-t) = w\,\mathrm{relu}(t) - w t`
    differs only by a linear term (which the estimate may carry explicitly).

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
        angles = angles_between(t.directions, a.directions)
        flipped = np.pi - angles < angles
        cost = np.minimum(angles, np.pi - angles)
        rows, cols = linear_sum_assignment(cost)
        for i, j in zip(rows, cols, strict=True):
            report.matches.append(
                NeuronMatch(
                    int(i), int(j), float(cost[i, j]), bool(flipped[i, j]),
                    float(t.weights[i]), float(a.weights[j]), float(a.weights[j] - t.weights[i]),
                )
            )
    matched_t = {m.truth_index for m in report.matches}
    matched_a = {m.estimate_index for m in report.matches}
    report.unmatched_truth = [i for i in range(t.k) if i not in matched_t]
    report.unmatched_estimate = [j for j in range(a.k) if j not in matched_a]
    return report
