"""The learners. Each is a short function that reads like its paper's pseudo-code.

``METHODS`` maps a name to ``(function, options class)``; every function has the signature
``method(data, k, rng, options, report) -> ReLUNetwork`` and uses the shared stages
(:mod:`narrowrelu.subspace`, :mod:`narrowrelu.inside`, :mod:`narrowrelu.forms`); its options
are a frozen dataclass of :mod:`narrowrelu.options`.
"""

from ..options import AutoOptions, CDGKM23Options, CN24Options, DK23Options
from . import auto, cdgkm23, cn24, dk23

METHODS = {
    "auto": (auto.auto, AutoOptions),
    "cdgkm23": (cdgkm23.cdgkm23, CDGKM23Options),
    "cn24": (cn24.cn24, CN24Options),
    "dk23": (dk23.dk23, DK23Options),
}

__all__ = ["METHODS"]
