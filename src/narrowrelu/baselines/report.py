"""The baselines' report: a :class:`~narrowrelu.report.Report` (so that a baseline's network saves and loads)."""

from __future__ import annotations

import numpy as np

from ..report import Report

__all__ = ["TrainingReport", "training_report"]


class TrainingReport(Report):
    """A :class:`~narrowrelu.report.Report` whose training record also reads as a dict.

    ``report["epochs"]`` is ``report.stages[-1]["epochs"]`` (and ``report["method"]`` is
    ``report.method``), and ``report.get(key)`` is None for a key the record lacks: the reading of
    the plain dicts the baselines used to return.
    """

    def __getitem__(self, key: str):
        return self.method if key == "method" else self.stages[-1][key]

    def get(self, key: str, default=None):
        return self.method if key == "method" else self.stages[-1].get(key, default)


def training_report(method: str, n_train: int, y_validation: np.ndarray, d: int, k: int, seconds: float,
                    held_out_mse: float, options: dict, **record) -> TrainingReport:
    """One "train" stage with ``record``; ``held_out_mse`` relative to the variance of ``y_validation``
    (NaN without held-out rows)."""
    n_validation = len(y_validation)
    relative = held_out_mse / max(np.var(y_validation), 1e-300) if n_validation else float("nan")
    report = TrainingReport(method=method, n_samples=n_train + n_validation, n_train=n_train,
                            n_validation=n_validation, d=d, k=k, validation_mse=float(held_out_mse),
                            validation_relative=float(relative), options=options)
    report.add("train", seconds, **record)
    return report
