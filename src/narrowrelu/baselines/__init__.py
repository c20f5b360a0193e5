"""Baselines: what users would otherwise do, with the learners' interface ``fit(X, y, k) -> ReLUNetwork``.

Torch is an optional extra: ``pip install "narrowrelu[torch]"`` (``torch==2.13.0``).
"""

from .torch_gd import gradient_descent, tune_learning_rate

__all__ = ["gradient_descent", "tune_learning_rate"]
