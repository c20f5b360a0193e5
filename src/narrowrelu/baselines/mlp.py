"""scikit-learn's ``MLPRegressor`` with one hidden ReLU layer of width k (it has hidden biases).

The fitted layers are returned as a :class:`~narrowrelu.ReLUNetwork` with hidden biases and an
intercept, so its error is the exact closed form like every other learner's.
:func:`monte_carlo_relative_error` measures any predictor on fresh Gaussian inputs instead.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .._validation import RandomState, as_generator, check_positive_int, check_samples
from ..metrics import variance
from ..network import ReLUNetwork
from .report import training_report
from .torch_gd import student_network

__all__ = ["mlp", "monte_carlo_relative_error"]


def mlp(X, y, k: int, *, solver: str = "lbfgs", max_iter: int = 2000, random_state: RandomState = None
        ) -> ReLUNetwork:
    """Fit ``MLPRegressor(hidden_layer_sizes=(k,), activation="relu", solver=solver)``.

    Returns
    -------
    ReLUNetwork
        :math:`a^T\\mathrm{relu}(W x + \\beta) + b` with the fitted ``coefs_`` and ``intercepts_``;
        ``report`` records the iterations and the final training loss.
    """
    try:
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        raise ImportError('the MLP baseline needs scikit-learn: pip install "narrowrelu[sklearn]"') from None
    X, y = check_samples(X, y)
    k = check_positive_int(k, "k")
    seed = int(as_generator(random_state).integers(2**31))
    model = MLPRegressor(hidden_layer_sizes=(k,), activation="relu", solver=solver,
                         max_iter=max_iter, early_stopping=solver != "lbfgs", random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter is part of the budget
        model.fit(X, y)
    (W, a), (beta, b) = model.coefs_, model.intercepts_
    net = student_network(a[:, 0], W.T.copy(), beta, None, float(b[0]))
    net.report = training_report(f"mlp-{solver}", len(y), np.zeros(0), X.shape[1], k, time.perf_counter() - start,
                                 float("nan"), {"solver": solver, "max_iter": max_iter, "seed": seed},
                                 iterations=int(model.n_iter_), training_loss=float(model.loss_))
    return net


def monte_carlo_relative_error(predictor, truth: ReLUNetwork, n: int = 1_000_000,
                               random_state: RandomState = None) -> tuple[float, float]:
    """:math:`E[(\\hat f - f)^2] / \\mathrm{Var} f` on ``n`` fresh Gaussian inputs, and its standard error."""
    rng = as_generator(random_state)
    sq = np.concatenate([(predictor.predict(X) - truth.predict(X)) ** 2
                         for X in (rng.standard_normal((min(100_000, n - i), truth.d)) for i in range(0, n, 100_000))])
    var = variance(truth)
    return float(sq.mean() / var), float(sq.std() / np.sqrt(n) / var)
