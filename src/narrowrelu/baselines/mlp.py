"""scikit-learn's ``MLPRegressor`` with one hidden ReLU layer of width k (it has hidden biases).

Its hidden biases put it outside the :class:`~narrowrelu.ReLUNetwork` form, so it returns a
fitted scikit-learn predictor; the benchmark measures it with :func:`monte_carlo_relative_error`
(and says so), not with the closed form.
"""

from __future__ import annotations

import numpy as np

from .._validation import RandomState, as_generator, check_positive_int, check_samples
from ..metrics import variance
from ..network import ReLUNetwork

__all__ = ["mlp", "monte_carlo_relative_error"]


def mlp(X, y, k: int, *, solver: str = "lbfgs", max_iter: int = 2000, random_state: RandomState = None):
    """Fit ``MLPRegressor(hidden_layer_sizes=(k,), activation="relu", solver=solver)``; returns it."""
    try:
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        raise ImportError('the MLP baseline needs scikit-learn: pip install "narrowrelu[sklearn]"') from None
    X, y = check_samples(X, y)
    seed = int(as_generator(random_state).integers(2**31))
    model = MLPRegressor(hidden_layer_sizes=(check_positive_int(k, "k"),), activation="relu", solver=solver,
                         max_iter=max_iter, early_stopping=solver != "lbfgs", random_state=seed)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter is part of the budget
        return model.fit(X, y)


def monte_carlo_relative_error(predictor, truth: ReLUNetwork, n: int = 1_000_000,
                               random_state: RandomState = None) -> tuple[float, float]:
    """:math:`E[(\\hat f - f)^2] / \\mathrm{Var} f` on ``n`` fresh Gaussian inputs, and its standard error."""
    rng = as_generator(random_state)
    sq = np.concatenate([(predictor.predict(X) - truth.predict(X)) ** 2
                         for X in (rng.standard_normal((min(100_000, n - i), truth.d)) for i in range(0, n, 100_000))])
    var = variance(truth)
    return float(sq.mean() / var), float(sq.std() / np.sqrt(n) / var)
