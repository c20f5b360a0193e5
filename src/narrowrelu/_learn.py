"""``learn``: the one entry point to every method (public as :func:`narrowrelu.learn`)."""

from __future__ import annotations

import numbers
import time
import warnings

import numpy as np

from ._arrays import single_blas_thread
from ._validation import (
    RandomState,
    as_generator,
    check_memory,
    check_positive_int,
    duplicate_rows,
    gaussian_input_problems,
    row_order_problems,
)
from .biases import degree3_evidence
from .engines import Engine
from .exceptions import DataOrderWarning, FewSamplesWarning, FitWarning, NonGaussianInputWarning
from .methods import METHODS
from .network import ReLUNetwork
from .options import FitOptions, as_plain, build
from .pipeline import DEFAULT_MEMORY, MAX_KEPT_ROWS, Memory, scan
from .report import Report
from .selection import chosen_width, evaluate, is_exact, record, width_search_done
from .sources import MappedSource, open_source
from .standardize import estimate
from .subspace import low_degree_subspace, significant_directions

__all__ = ["learn"]

#: Minimum training rows per unit of d*k we accept without a warning (ours).
MIN_ROWS_PER_DK = 20
#: Kept training rows (the fit and the polish) per parameter below which a binding memory budget is warned (ours).
KEPT_ROWS_PER_PARAMETER = 10
#: Held-out rows advised at least: fewer select and score the fit poorly (ours). Below 2 the
#: held-out variance is 0 and every relative loss meaningless: refused.
MIN_VALIDATION_ROWS = 10
#: Rows that repeat another exactly, as a share of the kept rows, above which we warn (ours).
DUPLICATE_SHARE = 0.01
#: Labels whose first rows exceed this magnitude (or are nonzero below its inverse) are scaled
#: by a power of two, exactly, and the network scaled back: their squares stay finite (ours).
LABEL_LIMIT = 2.0**64
#: The label scale is read from this many first rows (ours).
LABEL_SCALE_ROWS = 4096


#: The standard-Gaussian diagnostic looks at about this many evenly spread training rows (ours).
GAUSSIAN_CHECK_ROWS = 25_000

#: Widths tried by ``k="auto"`` stop at this many neurons (ours).
MAX_AUTO_K = 16


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
    options: FitOptions | None = None,
    memory: int | str | None = None,
    **keywords,
) -> ReLUNetwork:
    r"""Learn :math:`f(x) = \sum_{i \le k} \lambda_i \mathrm{relu}(\langle u_i, x\rangle + b_i)`, x ~ N(0, I).

    Hidden biases are learned by ``method="auto"`` when the data show them (a degree-3 signal,
    :mod:`narrowrelu.biases`); on bias-free data the network is bias-free.

    Parameters
    ----------
    X : array_like of shape (n, d), dask array, path or :class:`~narrowrelu.sources.Source`
        Inputs, assumed standard Gaussian; or a data file (any format of
        :mod:`narrowrelu.sources`, streamed in chunks, never loaded whole).
    y : array_like of shape (n,) or None
        Labels :math:`y = f(x) + \xi`; None when ``X`` is a path or a source. Labels far from
        1 in magnitude (beyond ``LABEL_LIMIT``) are divided by a power of two as they are read
        (exactly) and the network multiplied back.
    k : int or "auto"
        Number of neurons, >= 1; ``"auto"`` chooses it: widths from the number of
        significant degree-2 directions upward, while the held-out loss improves by more than
        ``narrowrelu.selection.WIDTH_TOLERANCE``; the smallest width within that tolerance of
        the best is kept and the choice is reported (stage ``width``).
    method : {'auto', 'cdgkm23', 'cn24', 'dk23'}, default='auto'
        The learner (see :mod:`narrowrelu.methods`): our default, or the algorithms of
        Chen-Dou-Goel-Klivans-Meka 2023, Chen-Narayanan 2024, Diakonikolas-Kane 2023.
    random_state : int, Generator, RandomState instance or None, default=None
        Seeds every random choice (contraction vectors, candidates, restarts).
    validation_fraction : float, default=0.2
        Share of rows held out for model selection and the reported loss: runs of
        consecutive rows spread evenly over the data (at most ``MAX_VALIDATION_ROWS``; fewer
        than ``MIN_VALIDATION_ROWS`` warn, fewer than 2 are refused).
    engine : {'numpy', 'dask'} or :class:`~narrowrelu.engines.Engine`, default='numpy'
        Runs the moment passes; an ``Engine`` carries threads, chunk size, the Dask cluster,
        checkpoints and progress reporting. An ``Engine`` passed in is left open for the next
        call (close it, or use it as a context manager); its ``passes`` count this call's.
        Results do not depend on its number of threads.
    target : str, default='y'
        Label column of CSV and Parquet files.
    standardize : bool, default=False
        For inputs :math:`x \sim N(\mu, \Sigma)`: estimate :math:`\mu, \Sigma` (one more
        pass), learn on :math:`z = \Sigma^{-1/2}(x - \mu)` and map the network back
        (:mod:`narrowrelu.standardize`): its neurons then carry hidden biases
        :math:`-\langle \Sigma^{-1/2}u_i, \mu\rangle` (plus those learned in the whitened
        coordinates, where the estimated mean leaves the true network small biases) and the
        intercept shifts by the linear term's :math:`-\langle \Sigma^{-1/2}c, \mu\rangle`. The report keeps
        :math:`\mu` and :math:`\Sigma^{-1/2}` (``report.standardization``).
    d, n : int or None
        When ``X`` is a model one can call (a callable, a torch module, an ``.onnx`` path or
        ``"module:function"``): its input dimension (None: from the model) and the number of
        fresh Gaussian rows to query (:class:`~narrowrelu.sources.FunctionSource`, seeded by
        ``random_state``); the report's ``options["queries"]`` counts the rows queried.
    options : options dataclass of the method, optional
        :class:`~narrowrelu.options.AutoOptions`, ``CN24Options``, ``DK23Options`` or
        ``CDGKM23Options`` (``METHODS[method][1]``); the defaults when omitted.
    memory : int, str or None, default=None
        Memory budget, in bytes or as a size (``"512MB"``, ``"2GiB"``); None means
        ``DEFAULT_MEMORY`` (2 GiB). It bounds the training rows kept in memory for the fit and
        the polish, the held-out rows and the chunk temporaries of the passes (and with them
        the numpy engine's threads): :class:`~narrowrelu.pipeline.Memory`. Every pass still
        reads every row; a budget too small for ``10 k (d + 1)`` kept rows is warned.
    **keywords
        Method options by name, replacing fields of ``options``: a name the method does not
        use, or a value out of range, raises ``ValueError``. Fields marked "(ours)" are
        constants the papers leave open.

    Warns
    -----
    FewSamplesWarning
        Fewer training rows than ``MIN_ROWS_PER_DK * d * k`` (for ``k="auto"``, the width chosen).
    NonGaussianInputWarning
        The inputs do not look N(0, I) (means, covariances, fourth moments).
    DataOrderWarning
        Rows sorted or grouped by a column, or repeated exactly.
    FitWarning
        Fewer than ``k`` neurons returned (neurons of zero weight are dropped), the linear
        fallback, a subspace wider than ``k``; a bias-free network while the data show a
        degree-3 signal (hidden biases: :func:`narrowrelu.biases.degree3_signal`); units dead or
        linear on the data (``auto`` with biases).

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
    method_fn, options_class = METHODS[method]
    settings = build(options_class, method, options, keywords)
    source = open_source(X, y, target=target, d=d, n_rows=n, random_state=random_state)
    n, d = source.n_rows, source.n_features
    if n < 4:
        raise ValueError(f"too few samples: got n_samples={n}, need at least 4 "
                         f"({MIN_ROWS_PER_DK * d * k} are advised for d={d}, k={k})")
    budget = Memory(DEFAULT_MEMORY if memory is None else check_memory(memory))
    rng = as_generator(random_state)
    scale = _label_scale(source)
    oracle = getattr(source, "oracle", None)
    queried = oracle.queries if oracle is not None else 0  # the first query and the label-scale rows
    if scale != 1.0:
        source = MappedSource(source, lambda X, y: (X, y / scale))
    owned = not isinstance(engine, Engine)  # engines we create we close; the caller's stays open
    engine = Engine(engine) if owned else engine
    report = Report(method=method, n_samples=n, n_train=0, n_validation=0, d=d, k=k,
                    options=as_plain(settings) | {"k": "auto" if auto_width else k, "engine": engine.name,
                                              "source": source.name})
    start = time.perf_counter()
    # Tall-skinny products in every stage: one BLAS thread is up to 140x faster
    # (docs/engineering.md); the caller's limits are back when the call returns.
    with single_blas_thread(), engine.session(close=owned):
        if standardize:
            begin = time.perf_counter()
            transform = estimate(source, engine)
            source = transform.source(source)
            report.passes += 1
            report.standardization = {"mean": transform.mean, "whitening": transform.whitening}
            report.add("standardize", time.perf_counter() - begin, mean_norm=float(np.linalg.norm(transform.mean)),
                       whitening_condition=float(np.linalg.cond(transform.whitening)))
        data = scan(source, validation_fraction, engine, report, budget)
        report.n_train, report.n_validation = data.n_train, len(data.y_val)
        _check_scanned(data, n, validation_fraction, scale)
        constant = np.ptp(np.concatenate([data.y, data.y_val])) == 0
        begin = time.perf_counter()
        found = _input_warnings(data, d, None if auto_width else k, constant)
        report.add("checks", time.perf_counter() - begin, warnings=len(found))
        for category, message in found:
            _warn(report, category, message)
        if constant:
            net = ReLUNetwork(np.zeros(0), np.zeros((0, d)), intercept=float(data.y[0]))
        elif auto_width:
            net = _choose_width(data, method_fn, rng, settings, report)
        else:
            net = method_fn(data, k, rng, settings, report)
        for category, message in _fit_warnings(data, net, k, auto_width, constant, report):
            _warn(report, category, message)
        for category, message in _unexplained_degree3(data, net, settings.threshold, constant):
            _warn(report, category, message)
    if standardize:
        net = transform.to_original(net)
    if scale != 1.0:
        net = _scaled(net, scale, report)
    report.add("total", time.perf_counter() - start)
    if oracle is not None:  # every pass reads every row once (on any engine): one query per row and pass
        report.options["queries"] = queried + report.passes * n
    net.report = report
    return net


def _warn(report: Report, category: type[Warning], message: str) -> None:
    """``warnings.warn`` from the caller's line, and the same message in the report."""
    warnings.warn(message, category, stacklevel=3)
    report.warnings.append(message)


def _label_scale(source) -> float:
    """1, or the power of two nearest the largest |y| of the first rows when that is beyond ``LABEL_LIMIT``."""
    top = float(np.max(np.abs(source.read(0, min(source.n_rows, LABEL_SCALE_ROWS))[1])))
    if top == 0.0 or 1.0 / LABEL_LIMIT <= top <= LABEL_LIMIT:
        return 1.0
    return float(2.0 ** np.round(np.log2(top)))


def _scaled(net: ReLUNetwork, scale: float, report: Report) -> ReLUNetwork:
    """``scale * net`` (the output layer scaled; exact for a power of two), its held-out loss with it."""
    linear = None if net.linear is None else net.linear * scale
    scaled = ReLUNetwork(net.weights * scale, net.directions, linear, net.intercept * scale, biases=net.biases)
    report.validation_mse *= scale * scale  # inf, not an error, where the square leaves float64
    return scaled


def _check_scanned(data, n: int, validation_fraction: float, scale: float) -> None:
    """At least 2 held-out rows (a held-out variance); labels whose squares stay finite."""
    if len(data.y_val) < 2:
        raise ValueError(f"validation_fraction={validation_fraction} of n_samples={n} holds out {len(data.y_val)} "
                         f"row; at least 2 are needed to score the fit (a relative loss needs a held-out variance): "
                         f"give at least {int(np.ceil(2 / validation_fraction))} rows or a larger "
                         "validation_fraction")
    if not (np.isfinite(data.low.second_moment) and np.all(np.isfinite(data.low.T2))):
        raise ValueError(f"the labels are too large: the mean of y^2 overflows float64 (|y| reaches "
                         f"{float(np.max(np.abs(data.y))) * scale:.3g} among the rows kept in memory); divide y "
                         "by a constant or remove the outlying labels")


def _input_warnings(data, d: int, k: int | None, constant: bool) -> list[tuple[type[Warning], str]]:
    """Too few rows (``k`` given), inputs that do not look N(0, I), ordered or repeated rows, constant labels."""
    found = _few_rows(data, d, k) if k is not None else []
    if len(data.y_val) < MIN_VALIDATION_ROWS:
        found.append((FewSamplesWarning, f"only {len(data.y_val)} held-out rows: the fit is selected and scored on "
                      f"them, and at least {MIN_VALIDATION_ROWS} are advised (more rows or a larger "
                      "validation_fraction)"))
    problems = gaussian_input_problems(data.X[:: max(1, len(data.X) // GAUSSIAN_CHECK_ROWS)])
    if problems:
        found.append((NonGaussianInputWarning, "the inputs do not look standard Gaussian N(0, I), which every "
                      "method assumes: " + "; ".join(problems) + ". Whiten them first (x -> Sigma^(-1/2) (x - mu))"))
    ordered = row_order_problems(data.X, data.y, data.source.columns)
    if ordered:
        found.append((DataOrderWarning, "the rows look sorted or grouped: the means over runs of consecutive rows "
                      f"of {', '.join(ordered)} differ far more than in shuffled rows. The noise scales do not "
                      "depend on the order, but rows that are not independent (groups, time series) make them "
                      "optimistic; shuffle the rows if they were merely sorted"))
    repeated, checked = duplicate_rows([(data.X, data.y), (data.X_val, data.y_val)]), len(data.y) + len(data.y_val)
    if repeated > DUPLICATE_SHARE * checked:
        found.append((DataOrderWarning, f"{repeated} of {checked} rows checked repeat another row exactly: "
                      "repeated rows make the noise scales and the held-out loss optimistic; remove them"))
    if constant:
        found.append((FitWarning, "y is constant: returning the constant network (no neurons)"))
    return found


def _few_rows(data, d: int, k: int) -> list[tuple[type[Warning], str]]:
    found = []
    if data.n_train < MIN_ROWS_PER_DK * d * k:
        found.append((FewSamplesWarning, f"only {data.n_train} training rows for d={d}, k={k}: at least "
                      f"{MIN_ROWS_PER_DK * d * k} ({MIN_ROWS_PER_DK} d k) are advised for the degree-2 moments alone"))
    advised = KEPT_ROWS_PER_PARAMETER * k * (d + 1)
    if len(data.y) < advised and data.memory.kept_rows(d) < min(MAX_KEPT_ROWS, data.n_train):  # the budget binds
        found.append((FewSamplesWarning, f"the memory budget of {data.memory.bytes / 2**20:.0f} MiB keeps "
                      f"{len(data.y)} training rows for the fit and the polish, fewer than the {advised} "
                      f"({KEPT_ROWS_PER_PARAMETER} per parameter) advised for d={d}, k={k}: raise memory"))
    return found


def _fit_warnings(data, net: ReLUNetwork, k: int, auto_width: bool, constant: bool,
                  report: Report) -> list[tuple[type[Warning], str]]:
    """Too few rows for the width ``k="auto"`` chose; the linear fallback; fewer neurons than the ``k`` asked for."""
    if constant:
        return []
    found = _few_rows(data, data.d, report.k) if auto_width else []
    if net.k == 0:
        found.append((FitWarning, "no significant direction found: returning the least-squares linear model "
                      f"(0 of the k={report.k} neurons asked for); more rows, or less noise, would show the "
                      "directions"))
    elif net.k < k and not auto_width:
        found.append((FitWarning, f"the network has {net.k} neurons, fewer than the k={k} asked for (neurons of "
                      "zero weight are dropped, a linear term may stand for others): the data need fewer, or more "
                      "rows"))
    return found


def _unexplained_degree3(data, net: ReLUNetwork, threshold: float,
                         constant: bool) -> list[tuple[type[Warning], str]]:
    """A bias-free network (any method), yet its residual on the kept rows shows a degree-3 signal
    above ``threshold`` noise scales (on the significant directions of T2, or off them): hidden
    biases its model cannot explain. Not looked for when the fit is exact on the held-out rows
    (:func:`~narrowrelu.selection.is_exact`): it leaves nothing to explain."""
    if constant or net.k == 0 or (net.biases is not None and np.any(net.biases != 0)) or is_exact(evaluate(net, data)):
        return []
    V, _ = significant_directions(data.low.T2, data.low.T2_noise(), threshold, np.zeros((data.d, 0)))
    residual = data.y - net.predict(data.X)  # the same T3 as y (the net has none), less noise
    signal = degree3_evidence(data.X, residual, V, threshold)[1]
    if signal <= threshold:
        return []
    return [(FitWarning, f"the data show a degree-3 signal ({signal:.3g} noise scales) that a network without "
             "hidden biases cannot explain: the fit has no biases (method='auto' learns them)")]


def _choose_width(data, method_fn, rng, settings: FitOptions, report: Report) -> ReLUNetwork:
    """``k="auto"``: fit growing widths, keep the smallest the selection rule allows
    (:func:`~narrowrelu.selection.width_search_done`, :func:`~narrowrelu.selection.chosen_width`)."""
    _, V = low_degree_subspace(data, MAX_AUTO_K, settings.threshold, report)
    variance = float(np.var(data.y_val))
    fits: list[tuple[int, float, ReLUNetwork, Report]] = []
    for width in range(max(1, V.shape[1]), MAX_AUTO_K + 1):
        trial = Report(method=report.method, n_samples=report.n_samples, n_train=report.n_train,
                       n_validation=report.n_validation, d=report.d, k=width)
        net = method_fn(data, width, rng, settings, trial)
        fits.append((width, evaluate(net, data).loss, net, trial))
        if width_search_done([f[1] for f in fits], variance):
            break
    width, loss, net, trial = fits[chosen_width([f[1] for f in fits], variance)]
    report.k = width
    report.passes += sum(f[3].passes for f in fits)
    report.stages += trial.stages
    report.warnings += trial.warnings
    record(evaluate(net, data), report)
    report.add("width", 0.0, tried=[f[0] for f in fits], validation_mse=[f[1] for f in fits], chosen=width,
               significant_degree2_directions=V.shape[1])
    return net
