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

With ``biases=True`` the rows are :math:`(w_i, p_i)` and :math:`(v_j, q_j)`, the last column a hidden
bias, and :math:`K` is the biased pair moment (:func:`narrowrelu.metrics.relu_pair_moment`): with
:math:`n = |a|, m = |b|`, :math:`P = p/n`, :math:`Q = q/m`,
:math:`K(a, p; b, q) = nm\,\kappa(\rho, P, Q)`, and from :func:`narrowrelu.metrics.relu_pair_derivatives`

.. math:: \partial_a K = m\big((\kappa - \rho\,\partial_\rho\kappa - P\,\partial_P\kappa)\,\hat a
          + \partial_\rho\kappa\;\hat b\big),\qquad \partial_p K = m\,\partial_P\kappa

(which is the bias-free gradient above at :math:`p = q = 0`).

Protocol (ours where the paper is silent): Xavier (Glorot) uniform initialisation
:math:`U(\pm\sqrt{6/(d+k)})`, fixed step ``5 / k`` (Safran, Yehudai and Shamir 2021), stop
when the gradient norm is at most ``tol`` or after ``max_iter`` steps; a run is spurious
when its final loss is at least ``SPURIOUS_LOSS`` = 1e-3 (the reference table's rule); student
biases start at zero and the step is ``BIASED_STEP / k`` (ours).
"""

from __future__ import annotations

import numpy as np

from .._validation import RandomState, as_generator, check_positive_int
from ..metrics import relu_pair_derivatives, relu_pair_moment

__all__ = ["population_loss", "population_gradient", "population_gradient_descent", "SPURIOUS_LOSS", "BIASED_STEP"]

#: A run ending at loss >= this is a spurious local minimum (Safran and Shamir 2018).
SPURIOUS_LOSS = 1e-3
#: Step times k with hidden biases (ours): 5 / k oscillates there (k = 2, d = 3: loss 0.13 after
#: 3000 steps, against 1e-16 at 1 / k).
BIASED_STEP = 1.0


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


def _biased_terms(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\sum_{ij} K(a_i, b_j)` and :math:`\sum_j \partial_{(a, p)} K(a_i, b_j)`, rows (a, p) of A (R, k, d+1)."""
    na, nb, theta = _pairs(A[..., :-1], B[..., :-1])
    P = (A[..., -1] / np.maximum(na, 1e-300))[..., :, None]
    Q = (B[..., -1] / np.maximum(nb, 1e-300))[..., None, :]
    kappa = relu_pair_moment(theta, P, Q)
    d_P, d_rho = relu_pair_derivatives(theta, P, Q)
    m = nb[..., None, :]
    total = (na[..., :, None] * m * kappa).sum(axis=(-1, -2))
    side = (m * (kappa - np.cos(theta) * d_rho - P * d_P)).sum(axis=-1)
    unit_a = A[..., :-1] / np.maximum(na[..., None], 1e-300)
    unit_b = B[..., :-1] / np.maximum(nb[..., None], 1e-300)
    grad = side[..., None] * unit_a + np.einsum("rij,rjd->rid", m * d_rho, unit_b)
    return total, np.concatenate([grad, (m * d_P).sum(axis=-1)[..., None]], axis=-1)


def population_loss(W: np.ndarray, V: np.ndarray, biases: bool = False) -> np.ndarray:
    """:math:`F(W)` for students ``W`` (R, k, d) or (k, d) and target directions ``V`` (m, d).

    With ``biases=True`` the last column of ``W`` and ``V`` is the hidden bias (rows (w, p)).
    """
    W = np.asarray(W, dtype=np.float64)
    Wr = W if W.ndim == 3 else W[None]
    Vr = np.broadcast_to(V, (len(Wr), *V.shape))
    total = (lambda A, B: _biased_terms(A, B)[0]) if biases else _kernel_sum
    loss = 0.5 * total(Wr, Wr) - total(Wr, Vr) + 0.5 * total(Vr, Vr)
    return loss if W.ndim == 3 else loss[0]


def _grad_terms(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    r""":math:`\sum_j \partial_a K(a_i, b_j)` for every row ``a_i`` of A; shape of A."""
    na, nb, theta = _pairs(A, B)
    unit = A / np.maximum(na[..., None], 1e-300)
    side = (nb[..., None, :] * np.sin(theta)).sum(axis=-1)
    return (side[..., None] * unit + np.einsum("rij,rjd->rid", np.pi - theta, B)) / (2 * np.pi)


def population_gradient(W: np.ndarray, V: np.ndarray, biases: bool = False) -> np.ndarray:
    """:math:`\\nabla F(W)`, same shape as ``W`` ((R, k, d) or (k, d); the bias column too with ``biases``)."""
    W = np.asarray(W, dtype=np.float64)
    Wr = W if W.ndim == 3 else W[None]
    terms = (lambda A, B: _biased_terms(A, B)[1]) if biases else _grad_terms
    grad = terms(Wr, Wr) - terms(Wr, np.broadcast_to(V, (len(Wr), *V.shape)))
    return grad if W.ndim == 3 else grad[0]


def population_gradient_descent(
    V: np.ndarray, k: int | None = None, *, runs: int = 200, step: float | None = None, tol: float = 1e-9,
    max_iter: int = 20_000, biases: bool = False, random_state: RandomState = None,
) -> dict:
    """``runs`` independent runs of gradient descent on :math:`F` from Xavier initialisations.

    Parameters
    ----------
    V : ndarray of shape (m, d), or (m, d + 1) with ``biases``
        Target directions (the ``orthonormal`` family: the identity); with ``biases`` the last
        column is the targets' hidden biases.
    k : int or None
        Student width (default m).
    runs, step, tol, max_iter, random_state
        Runs; step size (default 5 / k, ``BIASED_STEP`` / k with biases); gradient-norm stop; step
        limit; seed.
    biases : bool
        Train a hidden bias per student neuron (started at zero); ``V`` then carries the
        targets' biases in its last column.

    Returns
    -------
    dict
        ``loss`` (runs,), ``iterations`` (runs,), ``converged`` (runs,) and ``spurious``
        (runs,), plus the settings.
    """
    V = np.asarray(V, dtype=np.float64)
    k = V.shape[0] if k is None else check_positive_int(k, "k")
    runs = check_positive_int(runs, "runs")
    d = V.shape[1] - biases
    step = (BIASED_STEP if biases else 5.0) / k if step is None else step
    rng = as_generator(random_state)
    bound = np.sqrt(6.0 / (d + k))
    W = rng.uniform(-bound, bound, size=(runs, k, d))
    if biases:
        W = np.concatenate([W, np.zeros((runs, k, 1))], axis=-1)
    active = np.ones(runs, dtype=bool)
    iterations = np.zeros(runs, dtype=int)
    for _ in range(max_iter):
        grad = population_gradient(W[active], V, biases)
        norms = np.linalg.norm(grad.reshape(len(grad), -1), axis=1)
        still = norms > tol
        index = np.flatnonzero(active)
        W[index[still]] -= step * grad[still]
        iterations[index[still]] += 1
        active[index[~still]] = False
        if not active.any():
            break
    loss = population_loss(W, V, biases)
    return {"loss": loss, "iterations": iterations, "converged": ~active, "spurious": loss >= SPURIOUS_LOSS,
            "k": k, "d": d, "runs": runs, "step": step, "tol": tol, "max_iter": max_iter, "biases": biases, "W": W}
