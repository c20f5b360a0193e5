r"""Hidden biases: the degree-3 signal, biased candidates inside :math:`V`, and what the data say of each unit.

A unit :math:`\lambda\,\mathrm{relu}(\langle u, x\rangle + b)`, :math:`\hat u = u/|u|`,
:math:`\beta = b/|u|`, contributes (docs/maths.md, hidden biases)

.. math:: T_n = \lambda |u| (-1)^n \varphi(\beta)\,\mathrm{He}_{n-2}(\beta)\,\hat u^{\otimes n}, \quad n \ge 2,

so :math:`T_3` is zero for a bias-free network and carries :math:`-\lambda|u|\varphi(\beta)\beta`
otherwise; its contractions :math:`M_3(g) = T_3(g, \cdot, \cdot) = \sum_i c_{3i} \langle \hat u_i,
g\rangle \hat u_i \hat u_i^T` have the form of :math:`M_4(g)`, and see the units :math:`M_4`
misses (its coefficient :math:`\varphi(\beta)(\beta^2 - 1)` vanishes at :math:`|\beta| = 1`).
Along a unit's own direction :math:`T_3(\hat u, \hat u, \hat u) / T_2(\hat u, \hat u) = -\beta`.

* :func:`degree3_signal`: the largest :math:`\|\hat M_3(e_j)\|_{op}` on a basis of ``V`` in units of its
  batch noise (on the kept rows): the gate of the biased branch of ``auto``, and of the
  warning that a bias-free network cannot explain the data.
* :func:`degree3_directions`: the vectors :math:`T_3(I) = \sum_i c_{3i} \hat u_i` (the trace
  contraction, every unit at full weight) and :math:`T_3(v, v, \cdot)` for the basis vectors v of
  ``V``, in :math:`R^d`: their parts off ``V`` that clear ``threshold`` noise scales are new
  directions (units too weak in :math:`T_2`, whose coefficient :math:`\varphi(\beta)` is small
  for large :math:`|\beta|`, while :math:`T_3`'s :math:`\varphi(\beta)\beta` is not as small).
* :func:`degree3_evidence`: both of the above on one residualisation (what ``auto`` and the
  warning for bias-free fits use).
* :func:`linear_direction`: the part of :math:`T_1 = \sum_i \lambda_i |u_i| \Phi(\beta_i) \hat u_i`
  off ``V`` when it clears ``threshold`` noise scales: a unit with a large :math:`\beta` is linear
  on the data, its :math:`T_2, T_3, \dots` weights :math:`\varphi(\beta)\mathrm{He}_{n-2}(\beta)`
  vanish but its :math:`T_1` weight :math:`\Phi(\beta)` does not (ours). For a bias-free network
  :math:`T_1 = \tfrac12 \sum_i \lambda_i u_i` lies in the span of the units.
* :func:`biased_pool`: candidate rows :math:`(v, \beta)` on the augmented input :math:`(z, 1)`:
  the bias-free directions of :func:`~narrowrelu.neurons.candidate_pool`, Jennrich on
  :math:`M_3` contractions, each with its :math:`T_3/T_2` bias and the ``BIAS_GRID``.
* :func:`unit_activity`: the share of rows on which each unit is active; units active on
  fewer than ``DEAD_SHARE`` or more than ``1 - DEAD_SHARE`` of them are dead or linear on
  the data, identifiable only through their linear part.
"""

from __future__ import annotations

import numpy as np

from . import moments
from .network import ReLUNetwork
from .neurons import candidate_pool
from .subspace import random_unit_vectors

__all__ = ["low_degree_residual", "degree3_directions", "degree3_evidence", "linear_direction", "DEGREE3_BATCHES",
           "BIAS_GRID", "BIAS_LIMIT", "DEAD_SHARE", "degree3_contractions", "degree3_signal", "biased_pool",
           "unit_activity", "activity_messages"]

#: Batches for its noise scale (ours).
DEGREE3_BATCHES = 8
#: Biases offered with every candidate direction, beside its T3/T2 estimate (ours).
BIAS_GRID = (0.0, -0.75, 0.75, -1.5, 1.5)
#: The T3/T2 bias estimate is clipped to this magnitude (ours; units beyond are nearly invisible).
BIAS_LIMIT = 4.0
#: A unit active on fewer than this share of the rows (or on more than 1 minus it) is dead
#: (or linear) on the data (ours).
DEAD_SHARE = 1e-3


def degree3_contractions(Z: np.ndarray, t: np.ndarray, G: np.ndarray,
                         n_batches: int = DEGREE3_BATCHES) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\hat M_3(g) = \overline{t\,[(g\cdot z)\,zz^T - (g\cdot z) I - z g^T - g z^T]}` for each row g of ``G``.

    Returns the pooled estimates (p, r, r) and the per-batch ones (B, p, r, r), the rows
    going to batch ``index mod B`` (equal shares; the rows kept in memory are in file order
    but spread over it).
    """
    p, r = G.shape[0], Z.shape[1]
    batches = np.zeros((n_batches, p, r, r))
    for b in range(n_batches):
        Zb, tb = Z[b::n_batches], t[b::n_batches]
        S = Zb @ G.T  # (n_b, p)
        m = Zb.T @ tb / len(tb)  # mean of t z
        for j in range(p):
            ts = tb * S[:, j]
            M = (Zb * ts[:, None]).T @ Zb / len(tb) - np.mean(ts) * np.eye(r)
            batches[b, j] = M - np.outer(m, G[j]) - np.outer(G[j], m)
    return batches.mean(axis=0), batches


def low_degree_residual(X: np.ndarray, t: np.ndarray, V: np.ndarray) -> np.ndarray:
    r""":math:`t - q(x)`, :math:`q` the degree-:math:`\le 2` Hermite fit of t with its :math:`T_2` on span ``V``.

    :math:`q(x) = T_0 + \langle T_1, x\rangle + \tfrac12 \langle T_2, zz^T - I\rangle`, :math:`z = V^Tx`:
    :math:`\mathrm{He}_3` is orthogonal to it, so :math:`T_3` is unchanged and its noise smaller.
    O(n (d + r^2)) work.
    """
    Z = X @ V
    centred = t - np.mean(t)
    T1 = X.T @ centred / len(t)
    T2 = (Z * centred[:, None]).T @ Z / len(t)
    quadratic = 0.5 * (np.einsum("ij,jk,ik->i", Z, T2, Z) - np.trace(T2))
    return centred - X @ T1 - quadratic


def degree3_signal(X: np.ndarray, y: np.ndarray, V: np.ndarray) -> float:
    r"""The largest :math:`\|\hat M_3(g)\|_{op}` over the basis vectors g of ``V``, in noise units.

    On the rows ``X``, ``y`` in the coordinates :math:`z = V^Tx`, of the residual of the
    degree-:math:`\le 2` fit of y (which leaves :math:`T_3` unchanged and its noise smaller).
    The :math:`M_3(e_j)` determine :math:`T_3` on ``V``, and draw nothing at random (the
    learner's random stream is untouched). Zero in expectation for a bias-free network (and
    for any even function).
    """
    return _signal(X, low_degree_residual(X, y, V), V)


def _signal(X: np.ndarray, t: np.ndarray, V: np.ndarray) -> float:
    """:func:`degree3_signal` of the already residualised ``t``."""
    r = V.shape[1]
    if r == 0 or len(t) < 2 * DEGREE3_BATCHES:
        return 0.0
    M, batches = degree3_contractions(X @ V, t, np.eye(r))
    noise = moments.operator_norm_standard_error(batches, np.full(DEGREE3_BATCHES, len(t) / DEGREE3_BATCHES))
    size = np.abs(np.linalg.eigvalsh(M)).max(axis=-1)
    return float(np.max(size / np.maximum(noise, 1e-300)))


def degree3_directions(X: np.ndarray, t: np.ndarray, V: np.ndarray,
                       threshold: float) -> tuple[np.ndarray, float]:
    r"""Unit directions (d, m) off ``V`` from the degree-3 vectors of ``t``, and their largest signal in noise units.

    ``t`` is first residualised (:func:`low_degree_residual`).
    :math:`T_3(I) = \overline{t\,(|x|^2 - d - 2)\,x}` and
    :math:`T_3(v, v, \cdot) = \overline{t\,[((v\cdot x)^2 - 1)\,x - 2 (v\cdot x)\,v]}`, each
    projected off ``V``; a vector counts when its norm exceeds ``threshold`` times the standard
    error of that norm (batch-to-batch spread over ``DEGREE3_BATCHES`` batches). Nothing random.
    """
    return _directions(X, low_degree_residual(X, t, V), V, threshold)


def _directions(X: np.ndarray, t: np.ndarray, V: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """:func:`degree3_directions` of the already residualised ``t``."""
    d, B = X.shape[1], DEGREE3_BATCHES
    P = np.eye(d) - V @ V.T
    batches = []
    for b in range(B):
        Xb, tb = X[b::B], t[b::B]
        S = Xb @ V
        vectors = [Xb.T @ (tb * (np.einsum("ij,ij->i", Xb, Xb) - d - 2))]
        vectors += [Xb.T @ (tb * (S[:, j] ** 2 - 1)) - 2 * (tb @ S[:, j]) * V[:, j] for j in range(V.shape[1])]
        batches.append(np.stack(vectors) @ P / len(tb))
    return _significant(np.stack(batches), threshold)


def _significant(batches: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """Of m vectors estimated on B batches (B, m, d): the unit directions (d, m') of those whose mean's
    norm exceeds ``threshold`` times its standard error (the batch spread), and the largest signal."""
    B = len(batches)
    mean = batches.mean(axis=0)
    se = np.sqrt(np.sum((batches - mean) ** 2, axis=(0, 2)) / (B * (B - 1)))
    signal = np.linalg.norm(mean, axis=1) / np.maximum(se, 1e-300)
    keep = signal > threshold
    found = mean[keep].T / np.linalg.norm(mean[keep], axis=1)
    return found, float(signal.max()) if len(signal) else 0.0


def degree3_evidence(X: np.ndarray, t: np.ndarray, V: np.ndarray,
                     threshold: float) -> tuple[np.ndarray, float]:
    """The directions of :func:`degree3_directions` and the larger of its signal and
    :func:`degree3_signal`'s, ``t`` residualised once for both."""
    t = low_degree_residual(X, t, V)
    found, outside = _directions(X, t, V, threshold)
    return found, max(outside, _signal(X, t, V))


def linear_direction(X: np.ndarray, y: np.ndarray, V: np.ndarray, threshold: float) -> np.ndarray:
    r"""The unit vector (d, 1) along :math:`\hat T_1 = \overline{(y - \bar y)\,x}` projected off ``V``, or (d, 0).

    Kept when its norm exceeds ``threshold`` times the standard error of that norm (the spread
    over ``DEGREE3_BATCHES`` batches, as in :func:`degree3_directions`). Nothing random.
    """
    d, B = X.shape[1], DEGREE3_BATCHES
    if len(y) < 2 * B:
        return np.zeros((d, 0))
    centred = y - np.mean(y)
    batches = np.stack([X[b::B].T @ centred[b::B] / len(centred[b::B]) for b in range(B)])  # (B, d)
    batches -= (batches @ V) @ V.T
    return _significant(batches[:, None, :], threshold)[0]


def _bias_estimates(Z: np.ndarray, t: np.ndarray, T2: np.ndarray, P: np.ndarray) -> np.ndarray:
    r""":math:`-\hat T_3(v, v, v) / T_2(v, v)` for each unit row v of ``P``, clipped to ``BIAS_LIMIT``."""
    S = Z @ P.T
    T3 = (t @ (S**3 - 3.0 * S)) / len(t)
    T2vv = np.einsum("ij,jk,ik->i", P, T2, P)
    beta = -T3 / np.where(np.abs(T2vv) > 0, T2vv, 1.0)
    return np.clip(np.where(np.abs(T2vv) > 0, beta, 0.0), -BIAS_LIMIT, BIAS_LIMIT)


def biased_pool(Z: np.ndarray, y: np.ndarray, low: moments.Moments, rng: np.random.Generator, *,
                n_contractions: int, threshold: float) -> np.ndarray:
    r"""Candidate rows :math:`(v, \beta)/|(v, \beta)|` (m, r + 1) for the augmented coordinates :math:`(z, 1)`.

    Directions: :func:`~narrowrelu.neurons.candidate_pool` (eigenvectors of :math:`T_2` and
    :math:`M_4(g)`, Jennrich on :math:`M_4`, random) and Jennrich on
    :math:`M_3(g)`: with :math:`T_2 = U C_2 U^T` and :math:`A = \sum_j a_j M_3(g_j) = U D U^T`
    the eigenvectors of :math:`A T_2^{-1}` are the :math:`\hat u_i` (when the :math:`T_2`
    eigenvalues clear ``threshold`` noise scales). Each direction comes with its
    :func:`_bias_estimates` value and every bias of ``BIAS_GRID`` (both signs: with a free
    linear term :math:`(v, \beta) \equiv (-v, -\beta)`, so one sign of v suffices).
    """
    r = Z.shape[1]
    P = [candidate_pool(Z, y, low, rng, n_contractions=n_contractions, threshold=threshold)]
    t = y - low.quadratic_model().predict(Z)
    M3, _ = degree3_contractions(Z, t, random_unit_vectors(rng, n_contractions, np.eye(r)))
    if np.min(np.abs(np.linalg.eigvalsh(low.T2))) > threshold * low.T2_noise():
        T2_inv = np.linalg.inv(low.T2)
        for _ in range(n_contractions):
            A = np.tensordot(rng.standard_normal(n_contractions), M3, axes=1)
            P.append(np.real(np.linalg.eig(A @ T2_inv)[1]).T)
    P = np.vstack(P)
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    biases = np.column_stack([_bias_estimates(Z, t, low.T2, P)] + [np.full(len(P), b) for b in BIAS_GRID])
    rows = np.concatenate([np.repeat(P, biases.shape[1], axis=0), biases.reshape(-1, 1)], axis=1)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def unit_activity(net: ReLUNetwork, X: np.ndarray) -> np.ndarray:
    """The share of the rows of ``X`` on which each neuron of ``net`` is active (its pre-activation > 0)."""
    hidden = X @ net.directions.T + (0.0 if net.biases is None else net.biases)
    return np.mean(hidden > 0.0, axis=0)


def activity_messages(net: ReLUNetwork, active: np.ndarray) -> list[str]:
    """One sentence per neuron that is dead or linear on the data (``DEAD_SHARE``)."""
    found = []
    for i, share in enumerate(active):
        if share < DEAD_SHARE or share > 1 - DEAD_SHARE:
            kind = "dead" if share < DEAD_SHARE else "linear"
            bias = 0.0 if net.biases is None else net.biases[i]
            found.append(f"neuron {i} (bias {bias:.3g}) is active on {share:.2%} of the rows: it is "
                         f"{kind} on the data, and only its linear part is identifiable from them")
    return found
