r"""Zhong, Song, Jain, Bartlett and Dhillon 2017: tensor initialisation, then gradient descent.

1. Subspace: the top-k eigenvectors :math:`V` of :math:`\hat T_2` by |eigenvalue| (their :math:`P_2`).
2. Directions: the degree-4 moment restricted to :math:`V` (odd ReLU moments of degree >= 3
   vanish, so degree 4 replaces their :math:`P_3`), decomposed by simultaneous
   diagonalisation of two random contractions, :math:`\mathrm{eig}(M_4(g_1) M_4(g_2)^{+})`.
3. Signs and weights: each direction is offered as :math:`\pm u`; forward least squares
   keeps k of them with their output weights.
4. Gradient descent (:func:`~narrowrelu.baselines.gradient_descent`) started there.
"""

from __future__ import annotations

import numpy as np

from .. import moments
from .._validation import RandomState, as_generator, check_positive_int, check_samples
from ..network import ReLUNetwork
from ..neurons import greedy_select
from ..polish import output_layer, to_network
from ..subspace import random_unit_vectors
from .torch_gd import gradient_descent

__all__ = ["tensor_initialisation", "zhong"]


def tensor_initialisation(X, y, k: int, random_state: RandomState = None) -> ReLUNetwork:
    """Steps 1-3: a width-k network from the degree-2 and degree-4 moments."""
    X, y = check_samples(X, y)
    k = check_positive_int(k, "k")
    rng = as_generator(random_state)
    low = moments.low_degree(X, y)
    mu, Q = np.linalg.eigh(low.T2)
    V = Q[:, np.argsort(-np.abs(mu))[: min(k, X.shape[1])]]
    Z = X @ V
    spec = moments.MomentSpec(d=V.shape[1], degrees=(4,), directions=random_unit_vectors(rng, 2, np.eye(V.shape[1])),
                              residual=moments.low_degree(Z, y).quadratic_model())
    M = moments.finalize(moments.accumulate(Z, y, spec), spec).M[0]
    values, vectors = np.linalg.eig(M[0] @ np.linalg.pinv(M[1]))
    U = np.real(vectors[:, np.argsort(-np.abs(values))]).T
    U /= np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-300)
    chosen = greedy_select(Z, y, np.vstack([U, -U]), k, step_iter=0)
    net = to_network(chosen @ V.T, output_layer(Z, y, chosen, None), None, X.shape[1])
    if net.k < k:  # pad with zero-weight neurons so that gradient descent gets width k
        extra = random_unit_vectors(rng, k - net.k, np.eye(X.shape[1]))
        net = ReLUNetwork(np.concatenate([net.weights, np.zeros(k - net.k)]), np.vstack([net.directions, extra]))
    return net


def zhong(X, y, k: int, *, random_state: RandomState = None, **descent) -> ReLUNetwork:
    """Tensor initialisation, then :func:`gradient_descent` (its keyword options) from there."""
    rng = as_generator(random_state)
    init = tensor_initialisation(X, y, k, random_state=rng)
    net = gradient_descent(X, y, k, init=init, random_state=rng, **descent)
    net.report.method = "zhong17"
    return net
