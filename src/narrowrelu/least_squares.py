r"""The least-squares kernel of every stage: the output layer for fixed hidden directions.

Given directions :math:`U` (k, d) the output layer solves

.. math:: \min_{w, a, b}\ \tfrac1n \| y - \mathrm{relu}(XU^T) w - (XV) a - b \|^2

where :math:`V` (d, r) spans the allowed linear term (``None`` for no linear term).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = ["OutputLayer", "features", "output_layer", "solve_normal_equations"]

#: Relative ridge added to the normal equations for numerical safety (ours).
RIDGE = 1e-12


@dataclass
class OutputLayer:
    """Least-squares output layer for fixed directions."""

    weights: np.ndarray  # (k,)
    linear: np.ndarray | None  # (r,) coefficients on the linear basis, or None
    intercept: float
    mse: float
    residual: np.ndarray  # (n,)


def features(XU: np.ndarray, XV: np.ndarray | None) -> np.ndarray:
    parts = [np.maximum(XU, 0.0)]
    if XV is not None:
        parts.append(XV)
    parts.append(np.ones((XU.shape[0], 1)))
    return np.hstack(parts)


def output_layer(X: np.ndarray, y: np.ndarray, U: np.ndarray, XV: np.ndarray | None = None) -> OutputLayer:
    """Least squares for the weights, the linear coefficients (on ``XV`` = X @ V) and intercept."""
    F = features(X @ U.T, XV)
    theta = solve_normal_equations(F.T @ F, F.T @ y)
    residual = y - F @ theta
    k = U.shape[0]
    linear = None if XV is None else theta[k:-1]
    return OutputLayer(theta[:k], linear, float(theta[-1]), float(residual @ residual / len(y)), residual)


def solve_normal_equations(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """The normal equations, with the features scaled to unit diagonal and a tiny ridge."""
    diag = np.diag(gram)
    scale = np.sqrt(np.where(diag > 0, diag, 1.0))  # an all-zero (dead) feature gets weight 0
    try:
        theta = scipy.linalg.solve(gram / np.outer(scale, scale) + RIDGE * np.eye(len(scale)), rhs / scale,
                                   assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        theta = np.linalg.lstsq(gram / np.outer(scale, scale), rhs / scale, rcond=None)[0]
    return theta / scale
