r"""The instance zoo: planted networks and Gaussian samples (the contract of docs/evaluation.md).

Families (``make(family, d, k, random_state, **params)``):

``random``
    :math:`u_i` uniform on the sphere, :math:`\lambda_i = \pm U[a, b]` with random signs;
    ``weight_range=(0.5, 2.0)``.
``orthonormal``
    :math:`u_i = e_i` (``basis="standard"``) or a random orthonormal set
    (``basis="random"``), :math:`\lambda_i` = ``weight`` (default 1). Needs ``k <= d``.
``conditioned``
    :math:`W = B\,\mathrm{diag}(\mathrm{linspace}(1, \kappa, k))\,A^T` with random orthonormal
    :math:`A` (d, k) and :math:`B` (k, k); rows normalised to :math:`u_i`;
    :math:`\lambda_i = \pm 1`. ``kappa=10``. Needs ``k <= d``.
``close-pair``
    two neurons at angle ``theta`` (default 1e-2) with weights :math:`+L, -L`
    (``L=10``); the other ``k - 2`` neurons as in ``random``. Needs ``k >= 2``.
``cluster``
    ``m`` neurons (default 3) at angular spacing ``theta`` (default 0.1) in a random plane
    with weights :math:`(-1)^j \binom{m-1}{j}`, scaled so that the cluster has unit
    variance; the other ``k - m`` neurons as in ``random``. Needs ``k >= m``.
``vanishing``
    :math:`\sum_{j<m} (-1)^j |\langle u_j, x\rangle|` with :math:`u_j` at angles
    :math:`\pi j/m` in a random plane (``2m`` ReLUs, ``m`` even), so that every moment
    :math:`T_\ell` of degree :math:`\ell < m` vanishes exactly; the other ``k - 2m``
    neurons as in ``random``. ``m`` defaults to 4 when ``k >= 8`` and to 2 otherwise.
    Needs ``k >= 2m`` and ``d >= 2``.

Hidden biases: ``make(..., biases=s)`` gives every neuron a bias :math:`b_i \sim N(0, s^2)`
(default ``s = 0``: no biases, and exactly the bias-free instance of the same seed, since the
biases are drawn after everything else). A family's structure is kept: the close pair shares one
bias, so does a cluster, and each pair :math:`\pm u_j` of ``vanishing`` gets biases
:math:`\pm b_j`, so that it stays :math:`|\langle u_j, x\rangle + b_j|` (its low moments no longer vanish).
Every family but ``orthonormal`` and ``conditioned`` allows ``k > d``.

Noise: ``sample(net, n, noise=σ)`` returns :math:`y = f(x) + \sigma\,\mathrm{std}(f)\,\xi`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np

from ._validation import RandomState, as_generator, check_positive_int
from .metrics import variance
from .network import ReLUNetwork

__all__ = ["FAMILIES", "make", "sample"]


def _unit_rows(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    U = rng.standard_normal((k, d))
    return U / np.linalg.norm(U, axis=1, keepdims=True)


def _orthonormal(rng: np.random.Generator, d: int, k: int) -> np.ndarray:
    """A (d, k) matrix with orthonormal columns, uniformly random (Haar)."""
    Q, R = np.linalg.qr(rng.standard_normal((d, k)))
    return Q * np.sign(np.diag(R))


def _random_weights(rng, k, weight_range=(0.5, 2.0)) -> np.ndarray:
    low, high = weight_range
    if not 0 <= low <= high:
        raise ValueError(f"weight_range must be (low, high) with 0 <= low <= high, got {weight_range}")
    return rng.choice([-1.0, 1.0], size=k) * rng.uniform(low, high, size=k)


def _plane_directions(rng, d: int, angles: np.ndarray) -> np.ndarray:
    """Unit vectors at the given angles in a random 2-plane of R^d."""
    if d < 2:
        raise ValueError(f"this family needs d >= 2 (a plane), got d={d}")
    basis = _orthonormal(rng, d, 2)
    return np.cos(angles)[:, None] * basis[:, 0] + np.sin(angles)[:, None] * basis[:, 1]


#: A builder returns the network and its bias ties (index, sign): neuron i gets the bias
#: sign[i] * b[index[i]] for independent draws b (None: every neuron its own draw).
Ties = tuple[np.ndarray, np.ndarray] | None


def _with_random_rest(rng, d, k, weights, directions, weight_range, index, sign) -> tuple[ReLUNetwork, Ties]:
    """The structured neurons (tied biases ``index``, ``sign``), then k - len(weights) as in ``random``."""
    rest = k - len(weights)
    net = ReLUNetwork(
        np.concatenate([weights, _random_weights(rng, rest, weight_range)]),
        np.vstack([directions, _unit_rows(rng, rest, d)]),
    )
    rest_index = np.arange(len(weights), k)
    return net, (np.concatenate([index, rest_index]), np.concatenate([sign, np.ones(rest)]))


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _random(rng, d, k, weight_range=(0.5, 2.0)):
    return ReLUNetwork(_random_weights(rng, k, weight_range), _unit_rows(rng, k, d)), None


def _orthonormal_family(rng, d, k, basis="standard", weight=1.0):
    _need(k <= d, f"orthonormal needs k <= d, got k={k}, d={d}")
    _need(basis in ("standard", "random"), f"basis must be 'standard' or 'random', got {basis!r}")
    U = np.eye(d)[:k] if basis == "standard" else _orthonormal(rng, d, k).T
    return ReLUNetwork(np.full(k, float(weight)), U), None


def _conditioned(rng, d, k, kappa=10.0):
    _need(k <= d, f"conditioned needs k <= d, got k={k}, d={d}")
    _need(kappa >= 1, f"kappa must be >= 1, got {kappa}")
    W = _orthonormal(rng, k, k) @ np.diag(np.linspace(1.0, kappa, k)) @ _orthonormal(rng, d, k).T
    return ReLUNetwork(rng.choice([-1.0, 1.0], size=k), W / np.linalg.norm(W, axis=1, keepdims=True)), None


def _close_pair(rng, d, k, theta=1e-2, L=10.0, weight_range=(0.5, 2.0)):
    _need(k >= 2, f"close-pair needs k >= 2, got k={k}")
    _need(0 < theta < math.pi, f"theta must be an angle in (0, pi), got {theta}")
    pair = _plane_directions(rng, d, np.array([0.0, theta]))
    return _with_random_rest(rng, d, k, np.array([L, -L], dtype=float), pair, weight_range, [0, 0], [1.0, 1.0])


def _cluster(rng, d, k, m=3, theta=0.1, weight_range=(0.5, 2.0)):
    _need(m >= 2, f"cluster needs m >= 2 neurons, got m={m}")
    _need(k >= m, f"cluster with m={m} needs k >= {m}, got k={k}")
    _need(0 < theta and (m - 1) * theta < math.pi, f"theta must be in (0, pi/(m-1)), got {theta}")
    weights = np.array([(-1) ** j * math.comb(m - 1, j) for j in range(m)], dtype=float)
    directions = _plane_directions(rng, d, theta * np.arange(m))
    weights /= math.sqrt(variance(ReLUNetwork(weights, directions)))
    return _with_random_rest(rng, d, k, weights, directions, weight_range, np.zeros(m, dtype=int), np.ones(m))


def _vanishing(rng, d, k, m=None, weight_range=(0.5, 2.0)):
    if m is None:
        m = 4 if k >= 8 else 2
    _need(m >= 2 and m % 2 == 0, f"vanishing needs an even m >= 2, got m={m}")
    _need(k >= 2 * m, f"vanishing with m={m} uses {2 * m} ReLUs: needs k >= {2 * m}, got k={k}")
    signs = (-1.0) ** np.arange(m)
    plane = _plane_directions(rng, d, np.pi * np.arange(m) / m)
    # |t| = relu(t) + relu(-t): each term is a pair of opposite neurons.
    return _with_random_rest(rng, d, k, np.concatenate([signs, signs]), np.vstack([plane, -plane]), weight_range,
                             np.tile(np.arange(m), 2), np.repeat([1.0, -1.0], m))


FAMILIES: dict[str, Callable[..., tuple[ReLUNetwork, Ties]]] = {
    "random": _random,
    "orthonormal": _orthonormal_family,
    "conditioned": _conditioned,
    "close-pair": _close_pair,
    "cluster": _cluster,
    "vanishing": _vanishing,
}


def make(family: str, d: int, k: int, random_state: RandomState = None, *, biases: float = 0.0,
         **params) -> ReLUNetwork:
    r"""Plant a network from the zoo.

    Parameters
    ----------
    family : {'random', 'orthonormal', 'conditioned', 'close-pair', 'cluster', 'vanishing'}
    d : int
        Input dimension, >= 1.
    k : int
        Number of ReLU neurons, >= 1.
    random_state : int, Generator, RandomState instance or None, default=None
    biases : float, default=0.0
        Standard deviation s of the hidden biases :math:`b_i \sim N(0, s^2)`, drawn after the
        family's own draws (tied within a family's structure, see the module docstring);
        0 gives a bias-free network (``biases`` None).
    **params
        The family's knobs (see the module docstring for names and defaults).

    Returns
    -------
    ReLUNetwork
        Unit directions, no linear term, zero intercept.

    Examples
    --------
    >>> net = make("close-pair", d=10, k=3, random_state=0, theta=0.05)
    >>> net.k, net.d
    (3, 10)
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    d = check_positive_int(d, "d")
    k = check_positive_int(k, "k")
    builder = FAMILIES[family]
    allowed = builder.__code__.co_varnames[3 : builder.__code__.co_argcount]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for family {family!r}; "
            f"it accepts {', '.join(allowed) or 'none'}"
        )
    if not isinstance(biases, numbers.Real) or not np.isfinite(biases) or biases < 0:
        raise ValueError(f"biases must be a standard deviation >= 0 (a finite number), got {biases!r}")
    rng = as_generator(random_state)
    net, ties = builder(rng, d, k, **params)
    if biases == 0:
        return net
    index, sign = (np.arange(k), np.ones(k)) if ties is None else ties
    draws = biases * rng.standard_normal(k)
    net.biases = np.asarray(sign) * draws[np.asarray(index)]  # set, not rebuilt: the rows are unit already
    return net


def sample(
    net: ReLUNetwork, n: int, noise: float = 0.0, random_state: RandomState = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw ``n`` samples :math:`x \sim N(0, I_d)`, :math:`y = f(x) + \sigma\,\mathrm{std}(f)\,\xi`.

    Parameters
    ----------
    net : ReLUNetwork
    n : int
        Number of samples, >= 1.
    noise : float, default=0.0
        :math:`\sigma`, the noise level as a fraction of the (exact) standard deviation of f.
    random_state : int, Generator, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n, d), float64
    y : ndarray of shape (n,), float64
    """
    if not isinstance(net, ReLUNetwork):
        raise ValueError(f"net must be a ReLUNetwork, got {type(net).__name__}")
    n = check_positive_int(n, "n")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a non-negative fraction of std(f), got {noise}")
    rng = as_generator(random_state)
    X = rng.standard_normal((n, net.d))
    y = net.predict(X)
    if noise > 0:
        y += noise * math.sqrt(variance(net)) * rng.standard_normal(n)
    return X, y
