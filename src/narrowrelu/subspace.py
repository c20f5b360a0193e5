r"""Stage B: the subspace :math:`V` spanned (up to noise) by the hidden directions.

Every moment :math:`T_2 = c_2 \sum_i \lambda_i u_iu_i^T` and
:math:`M_\ell(g) = c_\ell \sum_i \lambda_i \langle u_i, g\rangle^{\ell-2} u_iu_i^T` has its column
space in :math:`\mathrm{span}\{u_i\}`. An eigen-direction of an estimate counts only when its
eigenvalue clears ``threshold`` times the estimate's own noise scale (the operator-norm
standard error from the batch-to-batch spread, docs/maths.md §3): no absolute constants.

The kernels come first; :func:`low_degree_subspace`, :func:`grow_on_kept_rows` and
:func:`grow_subspace` are the growth steps the methods call (from pass 1, from the kept rows,
from one more pass).
"""

from __future__ import annotations

import time

import numpy as np

from . import moments
from .pipeline import Data, moment_pass
from .report import Report

__all__ = [
    "complement_projector", "significant_directions", "merge_directions", "random_unit_vectors",
    "squared_contractions", "significant_square_directions", "low_degree_subspace", "grow_on_kept_rows",
    "grow_subspace",
]


def complement_projector(V: np.ndarray) -> np.ndarray:
    """:math:`I - VV^T` for orthonormal columns ``V`` (d, r)."""
    return np.eye(V.shape[0]) - V @ V.T


def significant_directions(
    M: np.ndarray, noise: float, threshold: float, V: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Eigen-directions of :math:`PMP` (:math:`P` = projector off ``V``) whose eigenvalues are significant.

    Significant means :math:`|\mu| > \text{threshold} \cdot \text{noise}`.

    Returns
    -------
    directions : ndarray of shape (d, m)
    eigenvalues : ndarray of shape (m,), sorted by decreasing magnitude
    """
    P = complement_projector(V)
    mu, Q = np.linalg.eigh(P @ M @ P)
    order = np.argsort(-np.abs(mu))
    mu, Q = mu[order], Q[:, order]
    keep = np.abs(mu) > threshold * noise
    return Q[:, keep], mu[keep]


def merge_directions(V: np.ndarray, new: list[np.ndarray], max_dim: int, min_singular: float = 0.5) -> np.ndarray:
    """Orthonormal basis of ``V`` plus the well-supported part of the ``new`` directions.

    Several estimates of the same direction (from different contractions) agree up to
    noise; their stack has one large singular value per distinct direction, and singular
    values below ``min_singular`` (ours) are the noise between copies, not new directions.
    At most ``max_dim`` columns are kept in all.
    """
    if not new:
        return V
    stack = np.hstack(new)
    stack -= V @ (V.T @ stack)
    U, s, _ = np.linalg.svd(stack, full_matrices=False)
    room = max(max_dim - V.shape[1], 0)
    add = U[:, (s > min_singular)][:, :room]
    basis, _ = np.linalg.qr(np.hstack([V, add]))
    return basis


def random_unit_vectors(rng: np.random.Generator, count: int, basis: np.ndarray) -> np.ndarray:
    """``count`` random unit vectors in the column span of ``basis`` (d, r); rows of the result."""
    G = rng.standard_normal((count, basis.shape[1])) @ basis.T
    return G / np.linalg.norm(G, axis=1, keepdims=True)


#: The jackknife over-estimates the variance of a statistic (Efron and Stein 1981), and here
#: it also carries the signal's own sampling spread: it enters the noise scale of the squared
#: statistic at this weight (ours).
JACKKNIFE_WEIGHT = 0.5


def squared_contractions(batch_M: np.ndarray) -> np.ndarray:
    r"""Cross-batch U-statistic of :math:`\sum_j M(g_j)^2` from per-batch contractions.

    .. math:: S = \sum_j \sum_{b \ne b'} \hat M_b(g_j)\,\hat M_{b'}(g_j)

    Independent batches make it unbiased (up to scale) for the positive semi-definite
    :math:`\sum_j M(g_j)^2`, whose range is the span of the neurons that the contractions
    see. Summing many contractions makes weak, cancelling structure visible (the vanishing
    family, where :math:`T_2 = 0` and each single :math:`M_4(g)` is below the noise): DK23's
    flattening :math:`T_{(1)}T_{(1)}^T`, sketched.

    Parameters
    ----------
    batch_M : ndarray of shape (B, ..., d, d)
    """
    return _squared_with_left_out(batch_M)[0]


def _squared_with_left_out(batch_M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":func:`squared_contractions` and its leave-one-batch-out versions (B, d, d).

    With :math:`T_j = \sum_b \hat M_b(g_j)`, leaving batch :math:`b` out gives
    :math:`S_{-b} = S + \sum_j (2\hat M_b^2 - T_j\hat M_b - \hat M_bT_j)` (symmetric
    :math:`\hat M`), so all of them cost two products per batch and contraction.
    """
    B, d = batch_M.shape[0], batch_M.shape[-1]
    Mb = batch_M.reshape(B, -1, d, d)
    total = Mb.sum(axis=0)
    squares, crosses = Mb @ Mb, total @ Mb
    S = (total @ total).sum(axis=0) - squares.sum(axis=(0, 1))
    left_out = S + (2 * squares - crosses - np.swapaxes(crosses, -1, -2)).sum(axis=1)
    return (S + S.T) / 2, (left_out + np.swapaxes(left_out, -1, -2)) / 2


def significant_square_directions(
    squares: tuple[np.ndarray, np.ndarray], B: int, threshold: float, V: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Eigen-directions of :math:`PSP` off ``V`` (``S`` of :func:`squared_contractions`) above the noise.

    The noise scale is the larger of the most negative eigenvalue's magnitude (the signal
    part of :math:`S` is positive semi-definite) and ``JACKKNIFE_WEIGHT`` times the jackknife
    standard error over batches, in operator norm, of :math:`PSP` (leave-one-batch-out
    U-statistics, each scaled by its number of batch pairs). The first alone is unreliable
    when few directions remain off ``V``: with heavy-tailed high-degree weights all of them
    can come out positive on pure noise.

    ``squares`` is ``(S, left_out)`` of :func:`_squared_with_left_out` from ``B`` batches, summed
    over the passes of a split discovery pass (both are sums over the contraction vectors).
    Returns the directions and their eigenvalues in units of the noise scale.
    """
    P = complement_projector(V)
    S, left_out = squares
    mu, Q = np.linalg.eigh(P @ S @ P)
    edge = max(-mu[0], np.finfo(float).tiny)
    if B > 2:
        left_out = P @ left_out @ P / ((B - 1) * (B - 2))
        spread = np.abs(np.linalg.eigvalsh(left_out - left_out.mean(axis=0))).max(axis=-1)
        edge = max(edge, JACKKNIFE_WEIGHT * np.sqrt((B - 1) / B * np.sum(spread**2)) * B * (B - 1))
    keep = mu > threshold * edge
    return Q[:, keep][:, ::-1], mu[keep][::-1] / edge


def low_degree_subspace(data: Data, k: int, threshold: float, report: Report) -> tuple[moments.Moments, np.ndarray]:
    """The significant eigen-directions of :math:`T_2` (from pass 1, ``data.low``)."""
    start, low = time.perf_counter(), data.low
    empty = np.zeros((data.d, 0))
    found, mu = significant_directions(low.T2, low.T2_noise(), threshold, empty)
    V = merge_directions(empty, [found], max_dim=k)
    report.add("subspace", time.perf_counter() - start, found=V.shape[1], eigenvalues=mu, noise=low.T2_noise(),
               threshold=threshold)
    return low, V


def _scaled(M: np.ndarray, noise: float, threshold: float, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Significant directions of ``M`` off ``V``, eigenvalues in units of ``noise``."""
    directions, mu = significant_directions(M, noise, threshold, V)
    return directions, mu / noise


def _second_moment_directions(m: moments.Moments, threshold: float, V: np.ndarray) -> list:
    """:func:`_scaled` for :math:`T_2` of the target and, when taken, of its square."""
    found = [_scaled(m.T2, m.T2_noise(), threshold, V)]
    if m.T2_squared is not None:
        found.append(_scaled(m.T2_squared, m.T2_squared_noise(), threshold, V))
    return found


def grow_on_kept_rows(
    data: Data, V: np.ndarray, max_dim: int, residual, threshold: float, report: Report, squared: bool = True
) -> np.ndarray:
    r"""No pass over the source: :math:`T_2` of ``r = y - residual(x)`` (and of :math:`r^2`) on the kept rows.

    Off ``V`` the residual's :math:`T_2` is that of ``y`` with the noise of ``r``, which the
    residual makes far smaller than that of ``y`` (pass 1), and :math:`T_2` of :math:`r^2` sees
    every hidden direction at full strength (see :func:`grow_subspace`). Two weighted Gram
    matrices over at most ``MAX_KEPT_ROWS`` rows in memory; contractions need a pass.
    """
    start = time.perf_counter()
    spec = moments.MomentSpec(d=data.d, squared=squared, residual=residual)
    m = moments.finalize(moments.accumulate(data.X, data.y, spec), spec)
    grown = merge_directions(V, [f[0] for f in _second_moment_directions(m, threshold, V)], max_dim=max_dim)
    report.add("subspace", time.perf_counter() - start, found=grown.shape[1] - V.shape[1], source="kept rows",
               rows=len(data.y), T2_noise=m.T2_noise(), threshold=threshold)
    return grown


def grow_subspace(
    data: Data, V: np.ndarray, max_dim: int, G: np.ndarray, degrees: tuple[int, ...], residual,
    threshold: float, report: Report, min_singular: float = 0.5, squared: bool = False,
) -> np.ndarray:
    r"""One pass: :math:`T_2` and :math:`M_\ell(g)` of ``y - residual(x)``; their significant directions off ``V``.

    The pass is split into passes over fewer vectors ``G`` when its sums would not fit in the
    memory budget's share for them (:meth:`~narrowrelu.pipeline.Memory.contractions_per_pass`):
    a small budget costs passes, not accuracy.

    With ``squared``, also :math:`T_2` of the squared residual :math:`r^2` (ours): :math:`r`
    depends on x only through the hidden directions (and V), so the range of
    :math:`E[r^2(xx^T - I)]` lies in their span, and it sees at full strength what odd and
    low-degree moments cannot (:math:`|t|`-like structure, the ``vanishing`` family, whose
    square has a degree-2 part) while a contraction :math:`M_4(g)` sees it at
    :math:`\langle u, g\rangle^2 \sim 1/d`. Returns ``V`` grown by the new directions (at
    most ``max_dim`` columns in all).
    """
    L, per_pass = len(degrees), data.memory.contractions_per_pass(data.d, len(degrees), squared)
    contracted, squares, spent = {}, None, 0.0
    for first in range(0, max(len(G), 1), per_pass):  # one pass unless the budget's sums share is too small
        group = G[first:first + per_pass]
        spec = moments.MomentSpec(d=data.d, degrees=tuple(degrees), directions=group, squared=squared,
                                  residual=residual)
        m = moment_pass(data, spec, report, "moments")
        start = time.perf_counter()
        noise = m.M_noise()
        contracted |= {(i, first + j): _scaled(m.M[i, j], noise[i, j], threshold, V)
                       for i in range(L) for j in range(len(group))}
        part = _squared_with_left_out(m.batch_M)
        squares = part if squares is None else (squares[0] + part[0], squares[1] + part[1])
        spent += time.perf_counter() - start
    start = time.perf_counter() - spent
    found = _second_moment_directions(m, threshold, V) + [contracted[key] for key in sorted(contracted)]
    found.append(significant_square_directions(squares, m.batch_M.shape[0], threshold, V))
    grown = merge_directions(V, [f[0] for f in found], max_dim=max_dim, min_singular=min_singular)
    report.add("subspace", time.perf_counter() - start, found=grown.shape[1] - V.shape[1], degrees=list(degrees),
               signal_to_noise=sorted((abs(float(f[1][0])) for f in found if len(f[1])), reverse=True),
               T2_noise=m.T2_noise(), threshold=threshold)
    return grown
