"""Every decision that uses the held-out rows, and nothing else does.

A :class:`Candidate` carries a network and its held-out loss; :func:`keep_best` is the only way
one candidate replaces another. The rules here say when a fit is exact (searches stop), when
two restarts agree, when a linear term is worth keeping, whether a repair is accepted and
which width ``k="auto"`` keeps. The report is written (:func:`record`), never read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import ReLUNetwork
from .report import Report

__all__ = ["EXACT", "AGREE", "LINEAR_GAIN", "WIDTH_TOLERANCE", "Candidate", "evaluate", "keep_best", "is_exact",
           "no_worse", "linear_wins", "width_search_done", "chosen_width", "record", "validation_mse"]

#: Held-out loss, relative to Var y, below which a fit counts as exact: restarts and the search
#: stop, and no linear term is tried (ours; recovery in docs/evaluation.md means error <= 1e-4).
EXACT = 1e-8
#: Restarts also stop when one lands within this relative distance of the best loss (ours).
AGREE = 0.01
#: The pure k-ReLU form wins unless a linear term buys more than this share of held-out loss (ours).
LINEAR_GAIN = 0.01
#: ``k="auto"`` keeps the smallest width whose held-out loss is within this factor of the best (ours).
WIDTH_TOLERANCE = 0.01


def validation_mse(net: ReLUNetwork, data) -> float:
    """Mean squared error of ``net`` on the held-out rows of ``data``."""
    return float(np.mean((net.predict(data.X_val) - data.y_val) ** 2))


@dataclass(frozen=True)
class Candidate:
    """A network, its held-out mean squared error, the variance of the held-out labels, and where it came from."""

    network: ReLUNetwork
    loss: float
    variance: float
    origin: str = ""

    @property
    def relative(self) -> float:
        """``loss / Var y_val``."""
        return self.loss / max(self.variance, 1e-300)


def evaluate(net: ReLUNetwork, data, origin: str = "") -> Candidate:
    """``net`` as a candidate: its held-out loss on ``data``."""
    return Candidate(net, validation_mse(net, data), float(np.var(data.y_val)), origin)


def keep_best(best: Candidate | None, challenger: Candidate | None) -> Candidate | None:
    """The candidate to keep: ``challenger`` replaces ``best`` only with a strictly lower held-out loss."""
    if best is None:
        return challenger
    if challenger is None:
        return best
    return challenger if challenger.loss < best.loss else best


def _exact_loss(variance: float) -> float:
    return EXACT * variance


def is_exact(candidate: Candidate, tol: float = 0.0) -> bool:
    """The held-out loss is at most ``max(EXACT, tol)`` x Var y_val: nothing left to find (``tol``:
    the user's tolerance, :class:`~narrowrelu.options.AutoOptions`)."""
    return candidate.relative <= max(EXACT, tol)


def no_worse(loss: float, reference: float) -> bool:
    """A restart is better than ``reference`` or agrees with it: ``loss <= (1 + AGREE) reference``."""
    return loss <= (1 + AGREE) * reference


def linear_wins(loss_pure: float, loss_linear: float, variance: float) -> bool:
    """A linear term buys more than ``LINEAR_GAIN`` of the pure form's held-out loss (beyond exact)."""
    return loss_pure > (1 + LINEAR_GAIN) * loss_linear + _exact_loss(variance)


def width_search_done(losses: list[float], variance: float) -> bool:
    """``k="auto"`` stops growing the width: the last fit is exact, or it did not improve on the best
    before it by more than ``WIDTH_TOLERANCE``."""
    best_before = min(losses[:-1]) if len(losses) > 1 else np.inf
    return losses[-1] <= _exact_loss(variance) or losses[-1] > (1 - WIDTH_TOLERANCE) * best_before


def chosen_width(losses: list[float], variance: float) -> int:
    """Index of the smallest width whose held-out loss is within ``WIDTH_TOLERANCE`` of the best."""
    best = min(losses)
    return next(i for i, loss in enumerate(losses) if loss <= (1 + WIDTH_TOLERANCE) * best + _exact_loss(variance))


def record(candidate: Candidate, report: Report) -> ReLUNetwork:
    """Write ``candidate``'s held-out loss into ``report`` (absolute and relative to Var y_val); its network."""
    report.validation_mse = candidate.loss
    report.validation_relative = candidate.relative
    return candidate.network
