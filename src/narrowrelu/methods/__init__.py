"""The learners. Each is a short function that reads like its paper's pseudo-code.

``METHODS`` maps a name to ``(function, defaults)``; every function has the signature
``method(data, k, rng, options, report) -> ReLUNetwork`` and uses the shared stages of
:mod:`narrowrelu.pipeline`.
"""

from . import auto, cdgkm23, cn24, dk23

METHODS = {
    "auto": (auto.auto, auto.DEFAULTS),
    "cdgkm23": (cdgkm23.cdgkm23, cdgkm23.DEFAULTS),
    "cn24": (cn24.cn24, cn24.DEFAULTS),
    "dk23": (dk23.dk23, dk23.DEFAULTS),
}

__all__ = ["METHODS"]
