"""Warning classes: outcomes the caller did not ask for, each with its own class.

Filter them as usual, e.g. ``warnings.simplefilter("error", narrowrelu.exceptions.FitWarning)``.
Every warning ``learn`` emits is also written into ``net.report.warnings``.
"""

from __future__ import annotations

__all__ = [
    "NarrowReLUWarning",
    "FewSamplesWarning",
    "NonGaussianInputWarning",
    "DataOrderWarning",
    "FitWarning",
]


class NarrowReLUWarning(UserWarning):
    """Base class of every warning narrowrelu emits."""


class FewSamplesWarning(NarrowReLUWarning):
    """Fewer rows than the moments need for the requested size (too few validation rows included)."""


class NonGaussianInputWarning(NarrowReLUWarning):
    """The inputs do not look standard Gaussian N(0, I), which every method assumes."""


class DataOrderWarning(NarrowReLUWarning):
    """The rows do not look exchangeable: sorted, grouped or duplicated rows."""


class FitWarning(NarrowReLUWarning):
    """The fit is not what was asked for: fewer than k neurons, the linear fallback, a subspace wider than k."""
