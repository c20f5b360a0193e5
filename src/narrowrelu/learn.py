"""``learn``: the one entry point to every method."""

from __future__ import annotations

import numbers
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from ._validation import RandomState, as_generator, check_positive_int, gaussian_input_problems
from .engines import Engine
from .methods import METHODS
from .network import ReLUNetwork
from .pipeline import EXACT, low_degree_subspace, scan
from .report import Report
from .sources import open_source
from .standardize import estimate

__all__ = ["learn"]

#: Minimum training rows per unit of d*k we accept without a warning (ours).
MIN_ROWS_PER_DK = 20


#: The standard-Gaussian diagnostic looks at about this many evenly spread training rows (ours).
GAUSSIAN_CHECK_ROWS = 25_000

#: Widths tried by ``k="auto"`` stop at this many neurons (ours).
MAX_AUTO_K = 16
#: ``k="auto"`` keeps the smallest width whose held-out loss is within this factor of the best (ours).
WIDTH_TOLERANCE = 0.01


def learn(
    X,
    y=None,
    k: int | str | None = None,
    method: str = "auto",
    random_state: RandomState = None,
    *,
    validation_fraction: float = 0.2,
    engine: str | Engine = "numpy",
    target: str = "y",
    standardize: bool = False,
    d: int | None = None,
    n: int | None = None,
    **options,
) -> ReLUNetwork:
    r"""Learn :math:`f(x) = \sum_{i \le k} \lambda_i \mathrm{relu}(\langle u_i, x\rangle)` from samples, x ~ N(0, I).

    Parameters
    ----------
    X : array_like of shape (n, d), dask array, path or :class:`~narrowrelu.sources.Source`
        Inputs, assumed standard Gaussian; or a data file (any format of
        :mod:`narrowrelu.sources`, streamed in chunks, never loaded whole).
    y : array_like of shape (n,) or None
        Labels :math:`y = f(x) + \xi`; None when ``X`` is a path or a source.
    k : int or "auto"
        Number of neurons, >= 1; ``"auto"`` chooses it: widths from the number of
        significant degree-2 directions upward, while the held-out loss improves by more than
        ``WIDTH_TOLERANCE``; the smallest width within that tolerance of the best is kept and
        the choice is reported (stage ``width``).
    method : {'auto', 'cdgkm23', 'cn24', 'dk23'}, default='auto'
        The learner (see :mod:`narrowrelu.methods`): our default, or the algorithms of
        Chen-Dou-Goel-Klivans-Meka 2023, Chen-Narayanan 2024, Diakonikolas-Kane 2023.
    random_state : int, Generator, RandomState instance or None, default=None
        Seeds every random choice (contraction vectors, candidates, restarts).
    validation_fraction : float, default=0.2
        Share of rows held out for model selection and the reported loss: runs of
        consecutive rows spread evenly over the data (at most ``MAX_VALIDATION_ROWS``).
    engine : {'numpy', 'dask'} or :class:`~narrowrelu.engines.Engine`, default='numpy'
        Runs the moment passes; an ``Engine`` carries threads, chunk size, the Dask cluster,
        checkpoints and progress reporting.
    target : str, default='y'
        Label column of CSV and Parquet files.
    standardize : bool, default=False
        For inputs :math:`x \sim N(\mu, \Sigma)`: estimate :math:`\mu, \Sigma` (one more
        pass), learn on :math:`z = \Sigma^{-1/2}(x - \mu)` and map the network back
        (:mod:`narrowrelu.standardize`): its neurons then carry hidden biases
        :math:`-\langle \Sigma^{-1/2}u_i, \mu\rangle` and the intercept shifts by the linear
        term's :math:`-\langle \Sigma^{-1/2}c, \mu\rangle`. The report keeps
        :math:`\mu` and :math:`\Sigma^{-1/2}` (``report.standardization``).
    d, n : int or None
        When ``X`` is a model one can call (a callable, a torch module, an ``.onnx`` path or
        ``"module:function"``): its input dimension (None: from the model) and the number of
        fresh Gaussian rows to query (:class:`~narrowrelu.sources.FunctionSource`, seeded by
        ``random_state``); the report's ``options["queries"]`` counts the rows queried.
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
    if k is None:
        raise ValueError("k is required: the number of neurons (an int >= 1) or 'auto'")
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
    source = open_source(X, y, target=target, d=d, n_rows=n, random_state=random_state)
    n, d = source.n_rows, source.n_features
    if n < 4:
        raise ValueError(f"too few samples: got n_samples={n}, need at least 4 "
                         f"({MIN_ROWS_PER_DK * d * k} are advised for d={d}, k={k})")
    settings = defaults | options
    rng = as_generator(random_state)
    engine = engine if isinstance(engine, Engine) else Engine(engine)
    report = Report(method=method, n_samples=n, n_train=0, n_validation=0, d=d, k=k,
                    options=dict(settings) | {"k": "auto" if auto_width else k, "engine": engine.name,
                                              "source": source.name})
    start = time.perf_counter()
    # Tall-skinny products throughout: one BLAS thread is up to 140x faster (docs/engineering.md).
    with threadpool_limits(1, user_api="blas"), engine:
        if standardize:
            begin = time.perf_counter()
            transform = estimate(source, engine)
            source = transform.source(source)
            report.passes += 1
            report.standardization = {"mean": transform.mean, "whitening": transform.whitening}
            report.add("standardize", time.perf_counter() - begin, mean_norm=float(np.linalg.norm(transform.mean)),
                       whitening_condition=float(np.linalg.cond(transform.whitening)))
        data = scan(source, validation_fraction, engine, report)
        report.n_train, report.n_validation = data.n_train, len(data.y_val)
        constant = np.ptp(np.concatenate([data.y, data.y_val])) == 0
        for message in _input_warnings(data, d, k, constant):
            warnings.warn(message, stacklevel=2)
            report.warnings.append(message)
        if constant:
            net = ReLUNetwork(np.zeros(0), np.zeros((0, d)), intercept=float(data.y[0]))
        elif auto_width:
            net = _choose_width(data, method_fn, rng, settings, report)
        else:
            net = method_fn(data, k, rng, settings, report)
    if standardize:
        net = transform.to_original(net)
    report.add("total", time.perf_counter() - start)
    if hasattr(source, "oracle"):  # every pass reads every row once: one query per row and pass
        report.options["queries"] = report.passes * n
    net.report = report
    return net


def _input_warnings(data, d: int, k: int, constant: bool) -> list[str]:
    """Too few rows, inputs that do not look N(0, I), constant labels."""
    found = []
    if data.n_train < MIN_ROWS_PER_DK * d * k:
        found.append(f"only {data.n_train} training rows for d={d}, k={k}: at least {MIN_ROWS_PER_DK * d * k} "
                     f"({MIN_ROWS_PER_DK} d k) are advised for the degree-2 moments alone")
    problems = gaussian_input_problems(data.X[:: max(1, len(data.X) // GAUSSIAN_CHECK_ROWS)])
    if problems:
        found.append("the inputs do not look standard Gaussian N(0, I), which every method assumes: "
                     + "; ".join(problems) + ". Whiten them first (x -> Sigma^(-1/2) (x - mu))")
    if constant:
        found.append("y is constant: returning the constant network (no neurons)")
    return found


def _choose_width(data, method_fn, rng, settings: dict, report: Report) -> ReLUNetwork:
    """``k="auto"``: fit growing widths, keep the smallest within ``WIDTH_TOLERANCE`` of the best."""
    _, V = low_degree_subspace(data, MAX_AUTO_K, settings["threshold"], report)
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
