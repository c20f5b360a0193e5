r"""Gradient descent on the exact population loss (Safran and Shamir 2018), many runs at once.

Student :math:`\sum_{i\le k}\mathrm{relu}(\langle w_i, x\rangle)` (output weights fixed to 1),
target :math:`\sum_{j}\mathrm{relu}(\langle v_j, x\rangle)`, x ~ N(0, I_d):

.. math::

   F(W) = \tfrac12 E\Big[\Big(\sum_i \mathrm{relu}(w_i^Tx) - \sum_j \mathrm{relu}(v_j^Tx)\Big)^2\Big]
        = \tfrac12\sum_{i,i'} K(w_i, w_{i'}) - \sum_{i,j} K(w_i, v_j) + \tfrac12\sum_{j,j'} K(v_j, v_{j'}),

with :math:`K(a, b) = E[\mathrm{relu}(a^Tx)\mathrm{relu}(b^Tx)]
= \frac{|a||b|}{2\pi}(\sin\theta + (\pi-\theta)\cos\theta)`
and :math:`\partial_a K(a, b) = \frac{1}{2\pi}\big(|b|\sin\theta\,\hat a + (\pi - \theta)\,b\big)`, so

.. math:: \nabla_{w_i} F = \sum_{i'} \partial_a K(w_i, w_{i'}) - \sum_j \partial_a K(w_i, v_j).

Protocol (ours where the paper is silent): Xavier (Glorot) uniform initialisation
:math:`U(\pm\sqrt{6/(d+k)})`, fixed step ``5 / k`` (Safran, Yehudai and Shamir 2021), stop
when the gradient norm is at most ``tol`` or after ``max_iter`` steps; a run is spurious
when its final loss is at least ``SPURIOUS_LOSS`` = 1e-3 (the reference table's rule).
"""

from __future__ import annotations

import numpy as np

from .._validation import RandomState, as_generator, check_positive_int

__all__ = ["population_loss", "population_gradient", "population_gradient_descent", "SPURIOUS_LOSS"]

#: A run ending at loss >= this is a spurious local minimum (Safran and Shamir 2018).
SPURIOUS_LOSS = 1e-3


def _pairs(A: np.ndarray, B: np.ndarray):
    """Norms, cosines and angles between the rows of A (R, k, d) and B (R, m, d)."""
    na, nb = np.linalg.norm(A, axis=-1), np.linalg.norm(B, axis=-1)
    cos = np.einsum("rid,rjd->rij", A, B) / np.maximum(na[..., :, None] * nb[..., None, :], 1e-300)
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    return na, nb, theta


def _kernel_sum(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    na, nb, theta = _pairs(A, B)
    K = na[..., :, None] * nb[..., None, :] * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)
    return K.sum(axis=(-1, -2))


def population_loss(W: np.ndarray, V: np.ndarray) -> np.ndarray:
    """:math:`F(W)` for students ``W`` (R, k, d) or (k, d) and target directions ``V`` (m, d)."""
    W = np.asarray(W, dtype=np.float64)
    Wr = W if W.ndim == 3 else W[None]
    Vr = np.broadcast_to(V, (len(Wr), *V.shape))
    loss = 0.5 * _kernel_sum(Wr, Wr) - _kernel_sum(Wr, Vr) + 0.5 * _kernel_sum(Vr, Vr)
    return loss if W.ndim == 3 else loss[0]


def _grad_terms(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    r""":math:`\sum_j \partial_a K(a_i, b_j)` for every row ``a_i`` of A; shape of A."""
    na, nb, theta = _pairs(A, B)
    unit = A / np.maximum(na[..., None], 1e-300)
    side = (nb[..., None, :] * np.sin(theta)).sum(axis=-1)
    return (side[..., None] * unit + np.einsum("rij,rjd->rid", np.pi - theta, B)) / (2 * np.pi)


def population_gradient(W: np.ndarray, V: np.ndarray) -> np.ndarray:
    """:math:`\\nabla F(W)`, same shape as ``W`` ((R, k, d) or (k, d))."""
    W = np.asarray(W, dtype=np.float64)
    Wr = W if W.ndim == 3 else W[None]
    grad = _grad_terms(Wr, Wr) - _grad_terms(Wr, np.broadcast_to(V, (len(Wr), *V.shape)))
    return grad if W.ndim == 3 else grad[0]


def population_gradient_descent(
    V: np.ndarray, k: int | None = None, *, runs: int = 200, step: float | None = None, tol: float = 1e-9,
    max_iter: int = 20_000, random_state: RandomState = None,
) -> dict:
    """``runs`` independent runs of gradient descent on :math:`F` from Xavier initialisations.

    Parameters
    ----------
    V : ndarray of shape (m, d)
        Target directions (the ``orthonormal`` family: the identity).
    k : int or None
        Student width (default m).
    runs, step, tol, max_iter, random_state
        Runs; step size (default 5 / k); gradient-norm stop; step limit; seed.

    Returns
    -------
    dict
        ``loss`` (runs,), ``iterations`` (runs,), ``converged`` (runs,) and ``spurious``
        (runs,), plus the settings.
    """
    V = np.asarray(V, dtype=np.float64)
    k = V.shape[0] if k is None else check_positive_int(k, "k")
    runs = check_positive_int(runs, "runs")
    d, step = V.shape[1], 5.0 / k if step is None else step
    rng = as_generator(random_state)
    bound = np.sqrt(6.0 / (d + k))
    W = rng.uniform(-bound, bound, size=(runs, k, d))
    active = np.ones(runs, dtype=bool)
    iterations = np.zeros(runs, dtype=int)
    for _ in range(max_iter):
        grad = population_gradient(W[active], V)
        norms = np.linalg.norm(grad.reshape(len(grad), -1), axis=1)
        still = norms > tol
        index = np.flatnonzero(active)
        W[index[still]] -= step * grad[still]
        iterations[index[still]] += 1
        active[index[~still]] = False
        if not active.any():
            break
    loss = population_loss(W, V)
    return {"loss": loss, "iterations": iterations, "converged": ~active, "spurious": loss >= SPURIOUS_LOSS,
            "k": k, "d": d, "runs": runs, "step": step, "tol": tol, "max_iter": max_iter, "W": W}
