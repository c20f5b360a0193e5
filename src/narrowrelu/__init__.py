"""narrowrelu: identify narrow one-hidden-layer ReLU networks from Gaussian samples or from queries.

The moment method of Chen, Dou, Goel, Klivans and Meka (COLT 2023) and its successors:
random contractions of Hermite moment tensors find the span of the hidden directions, the
neurons are found inside it and polished, and every accuracy figure is the exact population
error. Public names: :func:`learn` (from samples), :func:`identify` (from queries),
:class:`ReLUNetwork`, :func:`population_mse`, :func:`relative_error`, ``NarrowReLURegressor``
(scikit-learn, loaded on first use), and the modules :mod:`~narrowrelu.planted` (the instance
zoo), :mod:`~narrowrelu.options` (typed method options), :mod:`~narrowrelu.exceptions`
(warning classes), :mod:`~narrowrelu.hermite`, :mod:`~narrowrelu.moments` and
:mod:`~narrowrelu.metrics`.
"""

from importlib.metadata import PackageNotFoundError, version

from . import exceptions, hermite, metrics, moments, options, planted
from ._identify import identify
from ._learn import learn
from .metrics import population_mse, relative_error
from .network import ReLUNetwork

try:
    __version__ = version("narrowrelu")
except PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
    __version__ = "0+unknown"


def __getattr__(name: str):
    # The estimator imports scikit-learn, an optional extra: load it only when asked for.
    if name == "NarrowReLURegressor":
        from .estimator import NarrowReLURegressor

        return NarrowReLURegressor
    raise AttributeError(f"module 'narrowrelu' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"NarrowReLURegressor"})


# NarrowReLURegressor is left out of __all__: ``from narrowrelu import *`` must not need scikit-learn.
__all__ = [
    "ReLUNetwork",
    "learn",
    "identify",
    "population_mse",
    "relative_error",
    "exceptions",
    "hermite",
    "metrics",
    "moments",
    "options",
    "planted",
    "__version__",
]
