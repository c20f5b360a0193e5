"""``learn``: the one entry point to every method."""

from __future__ import annotations

import numbers
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from ._validation import RandomState, as_generator, check_positive_int, check_samples
from .methods import METHODS
from .network import ReLUNetwork
from .pipeline import split
from .report import Report

__all__ = ["learn"]

#: Minimum training rows per unit of d*k we accept without a warning (ours).
MIN_ROWS_PER_DK = 20


def learn(
    X,
    y,
    k: int,
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
    k : int
        Number of neurons, >= 1.
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
    k = check_positive_int(k, "k")
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
        raise ValueError(f"too few samples: got n={n}; at least {MIN_ROWS_PER_DK * d * k} are advised")
    settings = defaults | options
    rng = as_generator(random_state)
    data = split(X, y, validation_fraction, rng)
    report = Report(method=method, n_samples=n, n_train=len(data.y), n_validation=len(data.y_val), d=d, k=k,
                    options=dict(settings))
    if len(data.y) < MIN_ROWS_PER_DK * d * k:
        message = (f"only {len(data.y)} training rows for d={d}, k={k}: at least {MIN_ROWS_PER_DK * d * k} "
                   f"({MIN_ROWS_PER_DK} d k) are advised for the degree-2 moments alone")
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
            net = method_fn(data, k, rng, settings, report)
        report.add("total", time.perf_counter() - start)
    net.report = report
    return net
