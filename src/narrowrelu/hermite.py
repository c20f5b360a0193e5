r"""Probabilists' Hermite polynomials, the ReLU's Hermite coefficients and the contraction kernel.

The whole library rests on three facts (docs/maths.md §2):

* :math:`\mathrm{He}_0 = 1,\ \mathrm{He}_1 = t,\ \mathrm{He}_{n+1} = t\,\mathrm{He}_n - n\,\mathrm{He}_{n-1}`
  with :math:`E[\mathrm{He}_n \mathrm{He}_m] = n!\,\delta_{nm}` for :math:`t \sim N(0, 1)`;
* :math:`c_n := E[\mathrm{relu}(z)\,\mathrm{He}_n(z)]` is :math:`1/\sqrt{2\pi}, 1/2` for
  :math:`n = 0, 1`, zero for odd :math:`n \ge 3`, and :math:`\mathrm{He}_{n-2}(0)/\sqrt{2\pi}`
  for even :math:`n \ge 2`;
* with a hidden bias, :math:`c_n(b) := E[\mathrm{relu}(z + b)\,\mathrm{He}_n(z)]` is
  :math:`b\Phi(b) + \varphi(b)`, :math:`\Phi(b)` and :math:`(-1)^n \varphi(b)\,\mathrm{He}_{n-2}(b)` for
  :math:`n = 0`, :math:`1` and :math:`n \ge 2` (Gaussian integration by parts,
  :math:`E[g\,\mathrm{He}_n] = E[g^{(n)}]`, with :math:`\mathrm{relu}'' = \delta`), which is :math:`c_n` at
  :math:`b = 0`; so a network :math:`\sum_i \lambda_i \mathrm{relu}(\langle u_i, x\rangle + b_i)` has
  :math:`T_n = \sum_i \lambda_i |u_i|\, c_n(\beta_i)\, \hat u_i^{\otimes n}`, :math:`\beta_i = b_i / |u_i|`
  (:func:`network_moment`);
* the moment tensor :math:`T_\ell = E[y\,\mathrm{He}_\ell(x)] = c_\ell \sum_i \lambda_i u_i^{\otimes \ell}`
  contracted :math:`\ell - 2` times with a unit vector :math:`g` is
  :math:`M_\ell(g) = E[y\,K_\ell(x; g)] = c_\ell \sum_i \lambda_i \langle u_i, g\rangle^{\ell-2} u_i u_i^T`
  with the kernel

  .. math::

     K_\ell(x; g) = \mathrm{He}_{\ell-2}(s)(xx^T - I) - (\ell-2)\mathrm{He}_{\ell-3}(s)(gx^T + xg^T)
                    + (\ell-2)(\ell-3)\mathrm{He}_{\ell-4}(s)\,gg^T, \qquad s = \langle g, x\rangle.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

__all__ = [
    "hermite", "hermite_at_zero", "relu_coefficient", "biased_relu_coefficient", "network_moment",
    "network_contraction", "contraction_weights",
]


def hermite(n: int, t) -> np.ndarray:
    r"""Evaluate :math:`\mathrm{He}_n(t)` elementwise (zero for ``n < 0``).

    Parameters
    ----------
    n : int
        Degree; negative degrees give zeros, the convention of the contraction kernel.
    t : array_like
        Points (numpy, or any array-API array such as a torch tensor).

    Returns
    -------
    ndarray of the shape of ``t``

    Examples
    --------
    >>> float(hermite(3, 2.0))  # t^3 - 3t
    2.0
    """
    if isinstance(t, np.ndarray | np.generic | float | int | list | tuple):
        t = np.asarray(t, dtype=np.float64)
    # Any array-API array (a torch tensor for the torch engine) works as it is.
    previous, current = t * 0.0, t * 0.0 + 1.0
    if n < 0:
        return previous
    for m in range(n):
        previous, current = current, t * current - m * previous
    return current


def hermite_at_zero(n: int) -> float:
    r""":math:`\mathrm{He}_n(0)`: zero for odd ``n``, :math:`(-1)^{n/2}(n-1)!!` for even ``n``."""
    if n < 0 or n % 2:
        return 0.0
    return float((-1) ** (n // 2) * math.prod(range(n - 1, 0, -2)))


def relu_coefficient(n: int) -> float:
    r"""The exact ReLU Hermite coefficient :math:`c_n = E[\mathrm{relu}(z)\mathrm{He}_n(z)]`.

    Examples
    --------
    >>> relu_coefficient(1), relu_coefficient(3)
    (0.5, 0.0)
    >>> round(relu_coefficient(4) * (2 * math.pi) ** 0.5, 12)
    -1.0
    """
    if n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n}")
    if n == 0:
        return 1.0 / math.sqrt(2.0 * math.pi)
    if n == 1:
        return 0.5
    return hermite_at_zero(n - 2) / math.sqrt(2.0 * math.pi)


def biased_relu_coefficient(n: int, b) -> np.ndarray:
    r"""The Hermite coefficient of a biased ReLU, :math:`c_n(b) = E[\mathrm{relu}(z + b)\,\mathrm{He}_n(z)]`.

    .. math:: c_0(b) = b\Phi(b) + \varphi(b),\quad c_1(b) = \Phi(b),\quad
              c_n(b) = (-1)^n \varphi(b)\,\mathrm{He}_{n-2}(b)\ (n \ge 2),

    with :math:`\varphi, \Phi` the standard normal pdf and cdf; :math:`c_n(0)` is
    :func:`relu_coefficient` (to rounding).

    Parameters
    ----------
    n : int
        Degree, >= 0.
    b : array_like
        Biases, any shape.

    Returns
    -------
    ndarray of the shape of ``b``

    Examples
    --------
    >>> float(biased_relu_coefficient(1, 0.0)), round(float(biased_relu_coefficient(3, 1.0)), 6)
    (0.5, -0.241971)
    """
    if n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n}")
    b = np.asarray(b, dtype=np.float64)
    density = np.exp(-0.5 * b * b) / math.sqrt(2.0 * math.pi)
    if n == 0:
        return b * ndtr(b) + density
    if n == 1:
        return ndtr(b)
    return (-1) ** n * hermite(n - 2, b) * density


def _units(weights, directions, biases) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale-free neurons: weights times |u_i|, unit directions, beta_i = b_i / |u_i|."""
    directions = np.asarray(directions, dtype=np.float64)
    norms = np.linalg.norm(directions, axis=1)
    biases = np.zeros(len(norms)) if biases is None else np.asarray(biases, dtype=np.float64)
    return np.asarray(weights, dtype=np.float64) * norms, directions / norms[:, None], biases / norms


def network_moment(weights, directions, biases, n: int) -> np.ndarray:
    r"""The dense moment tensor :math:`T_n = E[f(x)\,\mathrm{He}_n(x)]` of a biased network, x ~ N(0, I).

    .. math:: T_n = \sum_i \lambda_i |u_i|\, c_n(\beta_i)\, \hat u_i^{\otimes n},
              \qquad \beta_i = b_i / |u_i|,

    for :math:`f(x) = \sum_i \lambda_i \mathrm{relu}(\langle u_i, x\rangle + b_i)` (no linear term), where
    :math:`\mathrm{He}_n(x)` is the tensor Hermite polynomial. A (d,)*n array: for tests at small d.

    Parameters
    ----------
    weights : array_like of shape (k,)
    directions : array_like of shape (k, d), non-zero rows
    biases : array_like of shape (k,) or None
    n : int
        Degree, >= 0.
    """
    w, U, beta = _units(weights, directions, biases)
    out = w * biased_relu_coefficient(n, beta)
    letters = "abcdefghijklmnopqrstuvwxyz"[:n]
    return np.einsum(",".join(["i"] + [f"i{c}" for c in letters]) + "->" + letters, out, *([U] * n))


def network_contraction(weights, directions, biases, n: int, g) -> np.ndarray:
    r""":math:`T_n` contracted :math:`n - 2` times with ``g``: :math:`\sum_i \lambda_i |u_i|\, c_n(\beta_i)
    \langle \hat u_i, g\rangle^{n-2} \hat u_i \hat u_i^T`, the (d, d) matrix :math:`M_n(g)` the engine
    estimates with the kernel :math:`K_n(x; g)` below (``n >= 2``)."""
    if n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n}")
    w, U, beta = _units(weights, directions, biases)
    scale = w * biased_relu_coefficient(n, beta) * (U @ np.asarray(g, dtype=np.float64)) ** (n - 2)
    return (U.T * scale) @ U


def contraction_weights(degree: int, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The three scalar weights of the contraction kernel :math:`K_\ell(x; g)`.

    Writing :math:`K_\ell(x; g) = a\,(xx^T - I) + b\,(gx^T + xg^T) + c\,gg^T`,

    .. math:: a = \mathrm{He}_{\ell-2}(s),\quad b = -(\ell-2)\mathrm{He}_{\ell-3}(s),\quad
              c = (\ell-2)(\ell-3)\mathrm{He}_{\ell-4}(s).

    Parameters
    ----------
    degree : int
        :math:`\ell \ge 2`.
    s : array_like
        Projections :math:`\langle g, x\rangle`, any shape.

    Returns
    -------
    a, b, c : ndarrays of the shape of ``s``
    """
    if degree < 2:
        raise ValueError(f"degree must be an integer >= 2, got {degree}")
    return (
        hermite(degree - 2, s),
        -(degree - 2) * hermite(degree - 3, s),
        (degree - 2) * (degree - 3) * hermite(degree - 4, s),
    )
