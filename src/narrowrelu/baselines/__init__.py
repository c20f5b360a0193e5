"""Baselines: what users would otherwise do, behind the learners' interface ``fit(X, y, k) -> model``.

``BASELINES`` maps a name to ``fit(X, y, k, *, lr, random_state, stop) -> model``: a
:class:`~narrowrelu.ReLUNetwork` with hidden biases (exact errors) whose ``report`` is a
:class:`~narrowrelu.report.Report` (so that it saves). Torch is an optional extra:
``pip install "narrowrelu[torch]"`` (``torch==2.13.0``).

- ``adam``, ``sgd``: width-k network of the learners' form with hidden biases, tuned learning rate, restarts.
- ``adam-wide``: the same with width ``WIDE * k`` (over-parameterised accuracy reference).
- ``zhong17``: tensor initialisation, then Adam (:mod:`.zhong`).
- ``mlp-lbfgs``, ``mlp-adam``: scikit-learn ``MLPRegressor`` (:mod:`.mlp`).
- :func:`population_gradient_descent`: exact population-loss GD (Safran and Shamir 2018).
"""

from .mlp import mlp, monte_carlo_relative_error
from .population_gd import population_gradient_descent, population_loss
from .torch_gd import gradient_descent, tune_learning_rate
from .zhong import tensor_initialisation, zhong

#: Width factor of the over-parameterised reference (docs/evaluation.md: 4k ... 16k; ours).
WIDE = 8
#: Epochs and restarts given to every gradient-descent baseline (ours; recorded in each report).
EPOCHS, RESTARTS = 100, 3


def _adam(X, y, k, *, lr, random_state, stop=None):
    return gradient_descent(X, y, k, lr=lr, epochs=EPOCHS, restarts=RESTARTS, stop=stop, random_state=random_state)


def _sgd(X, y, k, *, lr, random_state, stop=None):
    return gradient_descent(X, y, k, optimizer="sgd", lr=lr, epochs=EPOCHS, restarts=RESTARTS, stop=stop,
                            random_state=random_state)


def _wide(X, y, k, *, lr, random_state, stop=None):
    return gradient_descent(X, y, WIDE * k, lr=lr, epochs=EPOCHS, restarts=1, stop=stop, random_state=random_state)


def _zhong(X, y, k, *, lr, random_state, stop=None):
    return zhong(X, y, k, lr=lr, epochs=EPOCHS, restarts=1, stop=stop, random_state=random_state)


BASELINES = {
    "adam": _adam,
    "sgd": _sgd,
    "adam-wide": _wide,
    "zhong17": _zhong,
    "mlp-lbfgs": lambda X, y, k, *, lr, random_state, stop=None: mlp(X, y, k, random_state=random_state),
    "mlp-adam": lambda X, y, k, *, lr, random_state, stop=None: mlp(X, y, k, solver="adam",
                                                                   random_state=random_state),
}

__all__ = [
    "BASELINES", "gradient_descent", "tune_learning_rate", "zhong", "tensor_initialisation", "mlp",
    "monte_carlo_relative_error", "population_gradient_descent", "population_loss",
]
