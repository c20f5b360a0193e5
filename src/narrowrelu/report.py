"""The learner's report: a plain, printable, JSON-serialisable record of what each stage did."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["Report"]


def _plain(value: Any) -> Any:
    """Numpy scalars and arrays to Python numbers and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass
class Report:
    """What :func:`narrowrelu.learn` did.

    Attributes
    ----------
    method : str
    n_samples, n_train, n_validation, d, k : int
    passes : int
        Passes over the training rows made by the moment engine.
    stages : list of dict
        One record per stage: ``stage`` (name), ``seconds``, and what it found.
    validation_mse : float
        Mean squared error of the returned network on the held-out rows.
    validation_relative : float
        ``validation_mse`` divided by the variance of the held-out labels.
    options : dict
        The options in force, defaults included.
    warnings : list of str
    standardization : dict or None
        With ``standardize=True``: ``mean`` and ``whitening`` of :mod:`narrowrelu.standardize`.
    """

    method: str
    n_samples: int
    n_train: int
    n_validation: int
    d: int
    k: int
    passes: int = 0
    stages: list[dict] = field(default_factory=list)
    validation_mse: float = float("nan")
    validation_relative: float = float("nan")
    options: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    standardization: dict | None = None

    def add(self, stage: str, seconds: float, **details) -> None:
        self.stages.append({"stage": stage, "seconds": round(seconds, 4), **_plain(details)})

    def to_dict(self) -> dict:
        return _plain(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        """The report of a model file: the fields this version knows (a newer file's other keys are
        left out); the required ones default to 0 or "" when absent."""
        if cls is Report and data.get("method") == "identify":  # a model from narrowrelu.identify
            from ._identify import IdentifyReport

            cls = IdentifyReport
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        required = {"method": "", "n_samples": 0, "n_train": 0, "n_validation": 0, "d": 0, "k": 0}
        return cls(**(required | values))

    def __str__(self) -> str:
        lines = [
            f"narrowrelu {self.method}: k={self.k}, d={self.d}, {self.n_train} training + "
            f"{self.n_validation} held-out rows, {self.passes} data pass{'es' * (self.passes != 1)}",
        ]
        for record in self.stages:
            rest = ", ".join(f"{k}={_short(v)}" for k, v in record.items() if k not in ("stage", "seconds"))
            lines.append(f"  {record['stage']:<12} {record['seconds']:8.3f}s  {rest}")
        lines.append(f"  held-out mse {self.validation_mse:.4g} (relative {self.validation_relative:.3g})")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 6:
        return "[" + ", ".join(_short(v) for v in value[:6]) + ", ...]"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
