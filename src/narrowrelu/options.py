"""Typed options of every method: one frozen dataclass each, checked when it is made.

``learn(X, y, k, method=m, **keywords)`` builds ``METHODS[m]``'s options class from the
keywords; ``learn(X, y, k, method=m, options=AutoOptions(...))`` passes one directly. A wrong
value raises a ``ValueError`` that names the option and what it accepts; a name the method
does not use is refused (:func:`build`). Constants marked "(ours)" are not in the papers.

:class:`FitOptions` holds what every method shares: the fit inside the subspace (stage C) and
the polish (stage D). Each method's class adds only the options its own code reads.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FitOptions", "AutoOptions", "CN24Options", "DK23Options", "CDGKM23Options", "build", "as_plain"]


@dataclass(frozen=True)
class _Check:
    """What an option accepts (said in the error) and how a valid value is normalised."""

    accepts: str
    convert: Callable[[Any], Any]


def _integer(low: int) -> _Check:
    def convert(value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError
        return int(value)

    return _Check(f"an integer >= {low}", convert)


def _real(low: float, high: float = float("inf"), *, low_open: bool = True) -> _Check:
    def convert(value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError
        value = float(value)
        if not (low < value if low_open else low <= value) or not value <= high:
            raise ValueError
        return value

    bound = f"{'>' if low_open else '>='} {low:g}"
    return _Check(f"a number {bound}" + (f" and <= {high:g}" if high < float("inf") else ""), convert)


def _flag() -> _Check:
    def convert(value):
        if not isinstance(value, bool) and type(value).__name__ != "bool_":
            raise ValueError
        return bool(value)

    return _Check("true or false", convert)


def _choice(*names: str) -> _Check:
    def convert(value):
        if value not in names:
            raise ValueError
        return value

    return _Check("one of " + ", ".join(repr(n) for n in names), convert)


def _degrees() -> _Check:
    def convert(value):
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            raise ValueError
        value = tuple(value)
        if not value or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 4 or v % 2
                            for v in value):
            raise ValueError
        return tuple(int(v) for v in value)

    return _Check("a non-empty list of even integers >= 4, e.g. [4] or [4, 6]", convert)


def _option(default, check: _Check, doc: str):
    return field(default=default, metadata={"check": check, "doc": doc})


def _candidates(default: str):
    return _option(default, _choice("moments", "net"), "candidate directions inside V: moment eigenvectors and "
                   "Jennrich ('moments') or an eta-net of the unit sphere of V ('net', the papers' final step)")


@dataclass(frozen=True)
class _Checked:
    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            check: _Check = f.metadata["check"]
            try:
                normal = check.convert(value)
            except (ValueError, TypeError):
                raise ValueError(f"option {f.name} must be {check.accepts}, got {value!r}") from None
            object.__setattr__(self, f.name, normal)


@dataclass(frozen=True)
class FitOptions(_Checked):
    """Options of the stages every method shares: fit inside V (stage C) and polish (stage D)."""

    threshold: float = _option(4.0, _real(0), "eigenvalues count above threshold x their noise scale (ours)")
    contractions_outside: int = _option(16, _integer(1), "contraction vectors g drawn in the whole space (or "
                                        "off V) per discovery pass (ours)")
    candidates: str = _candidates("moments")
    contractions: int = _option(6, _integer(1), "contractions per candidate pool inside V (ours)")
    net_eta: float = _option(0.1, _real(0, 2), "eta-net spacing when candidates='net' (ours)")
    max_net: int = _option(100_000, _integer(1), "largest eta-net we agree to search (ours)")
    fit_rows: int = _option(40_000, _integer(1), "rows used inside V for the fit (ours)")
    select_rows: int = _option(10_000, _integer(1), "... of which the greedy selection uses about this many (ours)")
    polish: bool = _option(True, _flag(), "local refinement (L-BFGS on the variable-projection loss); false "
                           "keeps the directions as found and refits the output layer only")
    step_iter: int = _option(25, _integer(0), "L-BFGS iterations after each greedy step (ours)")
    refine_iter: int = _option(150, _integer(0), "L-BFGS iterations of the refinement inside V (ours)")
    polish_rows: int = _option(400_000, _integer(1), "kept rows used by the polish in R^d (ours)")
    polish_iter: int = _option(400, _integer(0), "L-BFGS iterations of the polish in R^d (ours)")
    levenberg_marquardt: bool = _option(True, _flag(), "Levenberg-Marquardt steps where L-BFGS does not "
                                        "converge at the coarsest level of a polish (ours)")
    collapse_tol: float = _option(0.0, _real(0, low_open=False), "merge polished neurons closer than this "
                                  "angle (radians); 0 merges none")


@dataclass(frozen=True)
class AutoOptions(FitOptions):
    """Options of ``auto`` (:mod:`narrowrelu.methods.auto`); the flags switch its mechanisms off one by one."""

    fill_threshold: float = _option(2.0, _real(0), "while dim V < k, directions above this many noise scales "
                                    "(< threshold) are admitted (ours)")
    max_stages: int = _option(4, _integer(0), "discovery passes after the first (ours)")
    contractions_inside: int = _option(4, _integer(0), "contraction vectors g drawn inside V per pass (ours)")
    degrees: tuple = _option((4,), _degrees(), "contraction degrees of the discovery passes")
    squared_residual: bool = _option(True, _flag(), "discovery also takes T2 of the squared residual (ours)")
    high_dim_features: int = _option(256, _integer(1), "from this many features on, a discovery pass draws "
                                     "contraction vectors in the whole space only when pass 1's noise scale says "
                                     "they can clear threshold (narrowrelu.highdim; ours: each one costs about a "
                                     "Gram pass, and below it every pass is left as it was)")
    kept_row_discovery: bool = _option(True, _flag(), "before spending a pass, look for directions in T2 of the "
                                       "residual on the rows kept in memory (ours)")
    weaker_fills: bool = _option(True, _flag(), "while dim V < k, admit directions above fill_threshold (ours)")
    close_pair_repair: bool = _option(True, _flag(), "re-seed the two weakest neurons of an inexact polished "
                                      "network as a close pair, kept if better (ours)")
    biases: bool = _option(True, _flag(), "hidden biases: when a polished fit is not exact and the kept rows "
                           "show a degree-3 signal above threshold noise scales, fit neurons with biases too, "
                           "kept if better on the held-out rows")
    tol: float = _option(0.0, _real(0, 1, low_open=False), "stop once the held-out loss relative to Var y is at "
                         "most this (a fit inside V that meets it is returned unpolished); 0 runs to exactness "
                         "(selection.EXACT = 1e-8)")
    whole_space_refits: int = _option(3, _integer(0), "when V is all of R^d (as for k > d), the biased neurons "
                                      "are fitted inside it up to this many more times from fresh candidate pools "
                                      "while the fit is not exact, the best kept: there the fit is the whole search "
                                      "(ours)")
    degree3_dims: int = _option(2, _integer(0), "the biased step may grow V beyond k by this many degree-3 "
                                "or first-moment directions, with a warning (ours)")
    streamed_passes: int = _option(4, _integer(0), "when the source has more training rows than were kept, "
                                   "at most this many Gauss-Newton passes over all of them finish the best network, "
                                   "each step kept only if it lowers the held-out loss (narrowrelu.streamed); 0 "
                                   "switches it off (ours)")


#: The default epsilon: ``net_eta=None`` then gives the eta-net spacing 0.1 used before epsilon existed (ours).
DEFAULT_EPSILON = 0.04


def _optional(check: _Check, meaning: str) -> _Check:
    """``check``, or None (said in the error with what None means)."""
    def convert(value):
        return None if value is None else check.convert(value)

    return _Check(f"{check.accepts}, or None ({meaning})", convert)


@dataclass(frozen=True)
class _EpsilonLearner(FitOptions):
    r"""What the three paper methods share: the target accuracy :math:`\epsilon` and the eta-net it sets."""

    epsilon: float = _option(DEFAULT_EPSILON, _real(0, 1), "the papers' epsilon: the target relative error "
                             "E[(f_hat - f)^2] / Var f. It sets the eta-net of the final step, eta = "
                             "sqrt(epsilon) / 2 unless net_eta is given (ours: 99% of the sphere lies within "
                             "(pi/2) eta of a net point (measured, dim V <= 4), and by the collapse lemma of "
                             "docs/maths.md moving a neuron by that angle costs at most about 0.9 epsilon of its "
                             "variance; the net has about (16 / epsilon)^((r-1)/2) points)")
    net_eta: float | None = _option(None, _optional(_real(0, 2), "sqrt(epsilon) / 2"),
                                    "eta-net spacing of the final step; None derives it from epsilon (ours)")
    restarts: int = _option(3, _integer(1), "candidate pools / greedy runs inside V, best by held-out loss; 1 "
                            "switches off the restarts beyond the first (ours)")
    neighbours: bool = _option(True, _flag(), "each greedy step also offers the chosen directions tilted by "
                               "NEIGHBOUR_ANGLES (nearly parallel neurons one at a time; ours)")
    candidates: str = _candidates("net")

    @property
    def eta(self) -> float:
        r"""The eta-net spacing in force: ``net_eta``, or :math:`\sqrt{\epsilon}/2` (ours)."""
        return self.net_eta if self.net_eta is not None else math.sqrt(self.epsilon) / 2

    def resolved(self):
        """These options with every value derived from ``epsilon`` made explicit (what the stages read)."""
        return dataclasses.replace(self, net_eta=self.eta)


@dataclass(frozen=True)
class CN24Options(_EpsilonLearner):
    """Options of ``cn24`` (:mod:`narrowrelu.methods.cn24`)."""

    degrees: tuple = _option((4, 6), _degrees(), "the even degrees l <= L = O(k) contracted at once (ours: L = 6)")
    contractions_outside: int = _option(8, _integer(1), "p, the number of random g (ours)")


@dataclass(frozen=True)
class DK23Options(_EpsilonLearner):
    """Options of ``dk23`` (:mod:`narrowrelu.methods.dk23`)."""

    max_stages: int = _option(4, _integer(0), "sketching rounds after the first (ours)")
    degrees: tuple = _option((4, 6), _degrees(), "even degrees up to L = O(k) (ours: L = 6)")
    contractions_outside: int = _option(6, _integer(1), "sketch size per round (ours)")


@dataclass(frozen=True)
class CDGKM23Options(_EpsilonLearner):
    """Options of ``cdgkm23`` (:mod:`narrowrelu.methods.cdgkm23`)."""

    threshold: float = _option(6.0, _real(0), "tau_0 in units of noise (ours)")
    max_stages: int | None = _option(None, _optional(_integer(0), "from epsilon"), "scales after scale 0; None: "
                                     "the fewest S with scale * shrink^S <= sqrt(epsilon) / 2, the finest scale the "
                                     "eta-net resolves (ours; 6 at the defaults)")
    contractions_inside: int = _option(4, _integer(0), "contraction vectors g drawn inside V per scale (ours)")
    min_threshold: float = _option(3.0, _real(0), "floor of tau_s (ours)")
    shrink: float = _option(0.75, _real(0, 1), "tau_{s+1} / tau_s and eta_{s+1} / eta_s (ours)")
    scale: float = _option(0.5, _real(0), "eta_0, the collapse angle at scale 0 in radians (ours)")
    max_degree: int = _option(8, _integer(4), "largest L_s (ours)")

    def __post_init__(self):
        super().__post_init__()
        if self.max_stages is None and self.shrink == 1.0:
            raise ValueError("option shrink=1 never shrinks the scale to the eta-net's spacing; give max_stages")

    @property
    def scales(self) -> int:
        """The scales after scale 0 in force: ``max_stages``, or the fewest (at least 1) whose finest
        scale ``scale * shrink^S`` is the eta-net's spacing or finer."""
        if self.max_stages is not None:
            return self.max_stages
        return max(1, math.ceil(math.log(self.eta / self.scale) / math.log(self.shrink) - 1e-9))

    def resolved(self):
        return dataclasses.replace(self, net_eta=self.eta, max_stages=self.scales)


def _document(cls: type) -> type:
    """Append the numpydoc ``Attributes`` section, from each field's default, range and description."""
    lines = ["", "Attributes", "----------"]
    for f in dataclasses.fields(cls):
        lines += [f"{f.name} : {f.metadata['check'].accepts}, default={f.default!r}", f"    {f.metadata['doc']}."]
    cls.__doc__ = cls.__doc__ + "\n" + "\n".join(lines)
    return cls


for _cls in (FitOptions, AutoOptions, CN24Options, DK23Options, CDGKM23Options):
    _document(_cls)


def build(cls: type[FitOptions], method: str, options: FitOptions | None, keywords: dict) -> FitOptions:
    """The options of ``method``: ``options`` (or the defaults) with ``keywords`` replacing fields.

    Raises ``ValueError`` for an options object of another method, a keyword the method does
    not use (naming those it accepts) and any value out of range.
    """
    if options is not None and type(options) is not cls:
        raise ValueError(f"method {method!r} takes {cls.__name__}, got {type(options).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(keywords) - set(names))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for method {method!r}; "
                         f"it accepts {', '.join(names)}")
    return dataclasses.replace(options, **keywords) if options is not None else cls(**keywords)


def as_plain(options: FitOptions) -> dict:
    """The options as plain data (for the report and JSON)."""
    return {name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(options).items()}
