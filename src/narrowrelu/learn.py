"""``learn``: the one entry point to every method."""

from __future__ import annotations

import numbers
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from ._validation import RandomState, as_generator, check_positive_int, check_samples, gaussian_input_problems
from .methods import METHODS
from .network import ReLUNetwork
from .pipeline import EXACT, low_degree_subspace, split
from .report import Report

__all__ = ["learn"]

#: Minimum training rows per unit of d*k we accept without a warning (ours).
MIN_ROWS_PER_DK = 20


#: Widths tried by ``k="auto"`` stop at this many neurons (ours).
MAX_AUTO_K = 16
#: ``k="auto"`` keeps the smallest width whose held-out loss is within this factor of the best (ours).
WIDTH_TOLERANCE = 0.01


def learn(
    X,
    y,
    k: int | str,
    method: str = "auto",
    random_state: RandomState = None,
    *,
    validation_fraction: float = 0.2,
    **options,
) -> ReLUNetwork:
    r"""Learn :math:`f(x) = \sum_{i \le k} \lambda_i \mathrm{relu}(\langle u_i, x\rangle)` from samples, x ~ N(0, I).

    Parameters
    ----------
    X : array_like of shape (n, d)
        Inputs, assumed standard Gaussian.
    y : array_like of shape (n,)
        Labels :math:`y = f(x) + \xi`.
    k : int or "auto"
        Number of neurons, >= 1; ``"auto"`` chooses it: widths from the number of
        significant degree-2 directions upward, while the held-out loss improves by more than
        ``WIDTH_TOLERANCE``; the smallest width within that tolerance of the best is kept and
        the choice is reported (stage ``width``).
    method : {'auto', 'cdgkm23', 'cn24', 'dk23'}, default='auto'
        The learner (see :mod:`narrowrelu.methods`): our default, or the algorithms of
        Chen-Dou-Goel-Klivans-Meka 2023, Chen-Narayanan 2024, Diakonikolas-Kane 2023.
    random_state : int, Generator, RandomState instance or None, default=None
        Seeds every random choice (split, contraction vectors, restarts).
    validation_fraction : float, default=0.2
        Share of rows held out for model selection and the reported loss.
    **options
        Method options; unknown names are refused. Those marked "ours" in a method's
        ``DEFAULTS`` are constants the papers leave open.

    Returns
    -------
    ReLUNetwork
        With a ``report`` (:class:`narrowrelu.report.Report`) of every stage.

    Examples
    --------
    >>> from narrowrelu import planted, relative_error
    >>> truth = planted.make("random", d=8, k=2, random_state=0)
    >>> X, y = planted.sample(truth, 20_000, random_state=1)
    >>> net = learn(X, y, k=2, random_state=0)
    >>> relative_error(net, truth) < 1e-4
    True
    """
    X, y = check_samples(X, y)
    auto_width = isinstance(k, str) and k == "auto"
    k = MAX_AUTO_K if auto_width else check_positive_int(k, "k")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if not isinstance(validation_fraction, numbers.Real) or not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction!r}")
    method_fn, defaults = METHODS[method]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for method {method!r}; "
            f"it accepts {', '.join(defaults)}"
        )
    n, d = X.shape
    if n < 4:
        raise ValueError(f"too few samples: got n_samples={n}, need at least 4 "
                         f"({MIN_ROWS_PER_DK * d * k} are advised for d={d}, k={k})")
    settings = defaults | options
    rng = as_generator(random_state)
    data = split(X, y, validation_fraction, rng)
    report = Report(method=method, n_samples=n, n_train=len(data.y), n_validation=len(data.y_val), d=d, k=k,
                    options=dict(settings) | {"k": "auto" if auto_width else k})
    if len(data.y) < MIN_ROWS_PER_DK * d * k:
        message = (f"only {len(data.y)} training rows for d={d}, k={k}: at least {MIN_ROWS_PER_DK * d * k} "
                   f"({MIN_ROWS_PER_DK} d k) are advised for the degree-2 moments alone")
        warnings.warn(message, stacklevel=2)
        report.warnings.append(message)
    problems = gaussian_input_problems(X)
    if problems:
        message = ("the inputs do not look standard Gaussian N(0, I), which every method assumes: "
                   + "; ".join(problems) + ". Whiten them first (x -> Sigma^(-1/2) (x - mu))")
        warnings.warn(message, stacklevel=2)
        report.warnings.append(message)
    if np.ptp(y) == 0:
        message = "y is constant: returning the constant network (no neurons)"
        warnings.warn(message, stacklevel=2)
        report.warnings.append(message)
        net = ReLUNetwork(np.zeros(0), np.zeros((0, d)), intercept=float(y[0]))
    else:
        start = time.perf_counter()
        # Tall-skinny products throughout: one BLAS thread is up to 140x faster (DESIGN §7).
        with threadpool_limits(1, user_api="blas"):
            if auto_width:
                net = _choose_width(data, method_fn, rng, settings, report)
            else:
                net = method_fn(data, k, rng, settings, report)
        report.add("total", time.perf_counter() - start)
    net.report = report
    return net


def _choose_width(data, method_fn, rng, settings: dict, report: Report) -> ReLUNetwork:
    """``k="auto"``: fit growing widths, keep the smallest within ``WIDTH_TOLERANCE`` of the best."""
    low, V = low_degree_subspace(data, MAX_AUTO_K, settings["threshold"], report)
    exact = EXACT * float(np.var(data.y_val))
    fits: list[tuple[int, float, ReLUNetwork, Report]] = []
    for width in range(max(1, V.shape[1]), MAX_AUTO_K + 1):
        trial = Report(method=report.method, n_samples=report.n_samples, n_train=report.n_train,
                       n_validation=report.n_validation, d=report.d, k=width)
        net = method_fn(data, width, rng, settings, trial)
        fits.append((width, trial.validation_mse, net, trial))
        best_before = min(f[1] for f in fits[:-1]) if len(fits) > 1 else np.inf
        if trial.validation_mse <= exact or trial.validation_mse > (1 - WIDTH_TOLERANCE) * best_before:
            break
    best = min(f[1] for f in fits)
    width, loss, net, trial = next(f for f in fits if f[1] <= (1 + WIDTH_TOLERANCE) * best + exact)
    report.k = width
    report.passes += sum(f[3].passes for f in fits)
    report.stages += trial.stages
    report.warnings += trial.warnings
    report.validation_mse, report.validation_relative = trial.validation_mse, trial.validation_relative
    report.add("width", 0.0, tried=[f[0] for f in fits], validation_mse=[f[1] for f in fits], chosen=width,
               significant_degree2_directions=V.shape[1])
    return net
