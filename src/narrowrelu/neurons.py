r"""Stage C: the neurons inside the subspace :math:`V` (coordinates :math:`z = V^Tx \in R^r`).

Candidates come from the moments restricted to :math:`V`:

* eigenvectors of :math:`T_2` and of contractions :math:`M_4(g)`, :math:`g \in V`;
* Jennrich's simultaneous diagonalisation: with :math:`T_2 = U C U^T` and
  :math:`A = \sum_j a_j M_4(g_j) = U D U^T` (both diagonal in the same basis, k = r),
  the eigenvectors of :math:`A T_2^{-1} = U D C^{-1} U^{-1}` are the columns of :math:`U`;
* for :math:`r \le 3`, an :math:`\eta`-net of the unit sphere of :math:`V` (CN24's final step).

One sign of each candidate enters the pool (a linear term is free at this stage, and
:math:`\mathrm{relu}(-t) = \mathrm{relu}(t) - t`). Neurons are then chosen greedily (forward
regression: the candidate ReLU feature that most reduces the residual, given the current
features and a free linear term), refitting all chosen directions after each step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import moments
from .least_squares import output_layer, solve_normal_equations
from .subspace import random_unit_vectors

__all__ = ["candidate_pool", "net_size", "sphere_net", "neighbours", "greedy_select", "close_pair_seed"]

#: Tilts (radians) of the chosen directions offered as candidates at every greedy step (ours).
NEIGHBOUR_ANGLES = (0.02, 0.1)
#: :func:`close_pair_seed` tries this many base directions, evenly spread over a circle, and
#: opens the pair at this angle (radians); refinement finds the true ones (ours).
PAIR_BASES, PAIR_TILT = 36, 1e-2
#: :func:`greedy_select` evaluates a larger pool's ReLU features this many candidates at a time (ours).
CANDIDATE_BLOCK = 1024


def net_size(r: int, eta: float) -> int:
    r"""Points in our :math:`\eta`-net of the unit sphere of R^r: about :math:`(2/\eta)^{r-1}` (ours)."""
    return 2 if r == 1 else int(np.ceil((2.0 / eta) ** (r - 1)))


def sphere_net(r: int, count: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``count`` spread unit vectors of R^r: a circle grid (r = 2), a Fibonacci sphere (r = 3),
    uniform random points otherwise (``rng`` required)."""
    if r == 1:
        return np.array([[1.0], [-1.0]])
    if r == 2:
        angles = 2 * np.pi * np.arange(count) / count
        return np.column_stack([np.cos(angles), np.sin(angles)])
    if r == 3:
        i = np.arange(count) + 0.5
        polar = np.arccos(1 - 2 * i / count)
        azimuth = np.pi * (1 + 5**0.5) * i
        return np.column_stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)])
    return random_unit_vectors(rng, count, np.eye(r))


def candidate_pool(
    Z: np.ndarray,
    y: np.ndarray,
    low: moments.Moments,
    rng: np.random.Generator,
    *,
    n_contractions: int,
    threshold: float,
) -> np.ndarray:
    r"""Candidate unit directions (rows) in the coordinates of ``Z`` (n, r).

    ``low`` holds the degree-<=2 moments of ``(Z, y)`` (:func:`narrowrelu.moments.low_degree`),
    made once by the caller and shared by every restart. One sign per direction suffices
    while a linear term is free: :math:`\mathrm{relu}(-t) = \mathrm{relu}(t) - t`.
    """
    r = Z.shape[1]
    G = random_unit_vectors(rng, n_contractions, np.eye(r))
    spec = moments.MomentSpec(d=r, degrees=(4,), directions=G, residual=low.quadratic_model())
    M4 = moments.finalize(moments.accumulate(Z, y, spec), spec).M[0]
    pool = [np.linalg.eigh(low.T2)[1].T]
    pool += [np.linalg.eigh(M)[1].T for M in M4]
    mu = np.linalg.eigvalsh(low.T2)
    if np.min(np.abs(mu)) > threshold * low.T2_noise():
        T2_inv = np.linalg.inv(low.T2)
        for _ in range(n_contractions):
            A = np.tensordot(rng.standard_normal(n_contractions), M4, axes=1)
            vectors = np.real(np.linalg.eig(A @ T2_inv)[1]).T
            pool.append(vectors)
    pool.append(random_unit_vectors(rng, 4 * r, np.eye(r)))
    P = np.vstack(pool)
    return P / np.linalg.norm(P, axis=1, keepdims=True)


def neighbours(U: np.ndarray, angles=NEIGHBOUR_ANGLES) -> np.ndarray:
    """The rows of ``U`` tilted by each of ``angles`` (radians) towards every coordinate axis, both ways."""
    if U.shape[0] == 0:
        return U
    r = U.shape[1]
    out = [np.cos(a) * U[:, None, :] + s * np.sin(a) * np.eye(r)[None, :, :]
           for a in angles for s in (1.0, -1.0)]
    N = np.concatenate(out, axis=1).reshape(-1, r)
    return N / np.linalg.norm(N, axis=1, keepdims=True)


def greedy_select(
    Z: np.ndarray, y: np.ndarray, pool: np.ndarray, k: int, *, step_iter: int = 0, refine: Callable | None = None,
    offer_neighbours: bool = True, linear: np.ndarray | None = None, block: int = CANDIDATE_BLOCK,
) -> np.ndarray:
    r"""Choose ``k`` directions from ``pool`` by forward regression, refitting after each step.

    Each step adds the candidate whose ReLU feature, orthogonalised against the current
    features (chosen ReLUs, the linear term ``Z`` and the intercept), has the largest
    squared correlation with the residual; then, with ``step_iter > 0``, all chosen
    directions are refined briefly by ``refine(Z, y, U, Z, max_iter=step_iter, lm_steps=0)``
    (:func:`narrowrelu.polish.refine`, passed in by the caller: L-BFGS, no Levenberg-Marquardt).
    With ``offer_neighbours``, every step also offers the :func:`neighbours` of the directions
    already chosen, so that nearly parallel neurons (a close pair, a cluster) can be built one
    at a time. ``linear`` replaces ``Z`` as the linear term's features: with hidden biases the
    pool's rows are :math:`(v, \beta)` on the augmented rows ``Z`` = :math:`(z, 1)` and
    ``linear`` is :math:`z` (the constant is the intercept's).

    When the pool has more than ``block`` candidates (an :math:`\eta`-net), each step
    evaluates their features ``block`` columns at a time: memory about
    ``4 * len(y) * block`` floats instead of ``4 * len(y) * len(pool)``, the same gains
    (each column's arithmetic is the same; BLAS may round differently) and the same first
    maximiser. A pool of at most ``block`` candidates is evaluated whole, as before.
    """
    if step_iter and refine is None:
        raise ValueError("greedy_select needs refine when step_iter > 0")
    linear = Z if linear is None else linear
    U = np.zeros((0, Z.shape[1]))
    whole = len(pool) <= block
    F_pool = np.maximum(Z @ pool.T, 0.0) if whole else None
    for _ in range(k):
        fit = output_layer(Z, y, U, linear)
        near = neighbours(U) if offer_neighbours else U[:0]
        candidates = np.vstack([pool, near])
        Q, _ = np.linalg.qr(np.hstack([np.maximum(Z @ U.T, 0.0), linear, np.ones((len(y), 1))]))
        if whole:
            gain = _gains(np.hstack([F_pool, np.maximum(Z @ near.T, 0.0)]), Q, fit.residual)
        else:  # a large dictionary (the eta-net): its features a block at a time, never all at once
            gain = np.concatenate([_gains(np.maximum(Z @ candidates[i:i + block].T, 0.0), Q, fit.residual)
                                   for i in range(0, len(candidates), block)])
        U = np.vstack([U, candidates[int(np.argmax(gain))]])
        if step_iter:
            U, _ = refine(Z, y, U, linear, max_iter=step_iter, lm_steps=0)
    return U


def _gains(F: np.ndarray, Q: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """Squared correlation with ``residual`` of each column of ``F`` orthogonalised against ``Q``, per unit norm."""
    F_perp = F - Q @ (Q.T @ F)
    norms = np.einsum("ij,ij->j", F_perp, F_perp)
    return (F_perp.T @ residual) ** 2 / np.maximum(norms, 1e-12 * len(residual))


def close_pair_seed(X: np.ndarray, e: np.ndarray, planes: list[np.ndarray]) -> np.ndarray:
    r"""Two nearly parallel unit directions (2, d) whose ReLUs fit ``e``, the base in one of ``planes`` (d, 2).

    To first order in the angle, a close pair
    :math:`L[\mathrm{relu}(\langle u + \epsilon v, x\rangle) - \mathrm{relu}(\langle u, x\rangle)]`
    is the gated linear unit :math:`\langle w, x\rangle 1[\langle u, x\rangle > 0]`,
    :math:`w = L \epsilon v`: a function no single ReLU is near, which local refinement
    started from two far-apart neurons cannot reach. For ``PAIR_BASES`` base directions
    :math:`u` on the unit circle of each plane, :math:`w` solves least squares over the rows
    where :math:`\langle u, x\rangle > 0`; the :math:`u` that explains most of ``e`` is
    returned with :math:`u + \text{PAIR_TILT}\, w_\perp / |w_\perp|` (normalised), where
    :math:`w_\perp` is :math:`w` off :math:`u`. Refinement then finds the pair's own angle and
    weights (the output layer gives them).
    """
    circle = np.pi * 2 * np.arange(PAIR_BASES) / PAIR_BASES
    bases = np.vstack([np.column_stack([np.cos(circle), np.sin(circle)]) @ np.linalg.qr(P)[0].T for P in planes])
    best_gain, best = -np.inf, None
    for u in bases:
        active = X @ u > 0
        A = X[active]
        rhs = A.T @ e[active]
        w = solve_normal_equations(A.T @ A, rhs)
        if rhs @ w > best_gain:
            best_gain, best = rhs @ w, (u, w)
    u, w = best
    w_perp = w - (w @ u) * u
    tilted = u + PAIR_TILT * w_perp / max(np.linalg.norm(w_perp), 1e-300)
    return np.vstack([u, tilted / np.linalg.norm(tilted)])
