"""The learners. Each is a short function that reads like its paper's pseudo-code."""

from .auto import auto

METHODS = {"auto": auto}

__all__ = ["METHODS", "auto"]
