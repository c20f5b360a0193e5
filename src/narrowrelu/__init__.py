"""narrowrelu: learn narrow one-hidden-layer ReLU networks from Gaussian samples.

The moment method of Chen, Dou, Goel, Klivans and Meka (COLT 2023) and its successors:
random contractions of Hermite moment tensors find the span of the hidden directions, the
neurons are found inside it and polished, and every accuracy figure is the exact population
error. Public names: :class:`ReLUNetwork`, :func:`population_mse`, :func:`relative_error`,
and the modules :mod:`~narrowrelu.planted` (the instance zoo), :mod:`~narrowrelu.hermite`,
:mod:`~narrowrelu.moments` and :mod:`~narrowrelu.metrics`.
"""

from . import hermite, metrics, moments, planted
from ._learn import learn
from .identify import identify
from .metrics import population_mse, relative_error
from .network import ReLUNetwork

__version__ = "0.1.0"


def __getattr__(name: str):
    # The estimator imports scikit-learn, an optional extra: load it only when asked for.
    if name == "NarrowReLURegressor":
        from .estimator import NarrowReLURegressor

        return NarrowReLURegressor
    raise AttributeError(f"module 'narrowrelu' has no attribute {name!r}")

__all__ = [
    "ReLUNetwork",
    "NarrowReLURegressor",
    "learn",
    "identify",
    "population_mse",
    "relative_error",
    "hermite",
    "metrics",
    "moments",
    "planted",
    "__version__",
]
