"""The benchmark harness: every method on the same sampled data, exact errors, resumable.

``narrowrelu bench --suite {quick,standard,full,recovery,recovery-large,noisy,bias,safran,generalization,
generalization-biased,throughput,queries,efficiency} --out DIR [--option NAME=VALUE ...]``
(or ``python -m narrowrelu.bench``) writes ``DIR/results.json`` (``meta`` and one record per run),
``DIR/results.md`` (tables) and PNG plots. Records already in ``results.json`` are skipped, so an
interrupted suite continues where it stopped. ``--option NAME=VALUE`` passes
options to ``learn`` for our methods (an ablation is a suite with one option changed); they are
recorded in ``meta`` and a directory holds the results of one set of options only.

A record: family, d, k, n, noise, seed, method, relative error (exact, or a Monte Carlo
estimate with its standard error for predictors outside the network form), recovered
(relative error <= ``RECOVERED``), seconds, peak memory added (MiB), samples used, and
what the method reported (passes, learning rate, epochs, ...). Gradient-descent baselines
get a learning rate tuned once per family on a separate seed, restarts, and (noiseless
data) an early stop the moment their exact error reaches ``RECOVERED``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .. import planted
from .._learn import learn
from .._validation import check_memory
from ..engines import Engine, RowPlan
from ..metrics import population_mse, relative_error, variance
from ..network import ReLUNetwork
from ..options import AutoOptions
from ..pipeline import Memory
from ..polish import augment, refine, rows, to_network
from ..sources import open_source
from ..streamed import least_squares
from . import generalization
from .memory import PeakRSS

#: Recovered: exact relative error at most this (docs/evaluation.md).
RECOVERED = 1e-4
#: Seed of the separate draw on which learning rates are tuned.
TUNING_SEED = 10_000
OURS = ("auto", "cdgkm23", "cn24", "dk23")
BASELINE_NAMES = ("adam", "sgd", "adam-wide", "zhong17", "mlp-lbfgs", "mlp-adam")


@dataclass(frozen=True)
class Case:
    """One instance shape; ``tag`` says which table or plot it feeds."""

    family: str
    d: int
    k: int
    n: int
    noise: float = 0.0
    knobs: tuple = ()
    tag: str = "zoo"


def _zoo(d: int, k: int, per_dk: int, close=(("theta", 0.05), ("L", 5.0))) -> list[Case]:
    n = per_dk * d * k
    return [Case("random", d, k, n), Case("orthonormal", d, k, n), Case("conditioned", d, k, n),
            Case("close-pair", d, k, 2 * n, knobs=close), Case("cluster", d, k, 2 * n),
            Case("vanishing", d, 4, 2 * per_dk * d * 4)]


def _sweeps(d: int, k: int, per_dk: int, widths, dims, multiples) -> list[Case]:
    return ([Case("random", d, w, per_dk * d * w, tag="width") for w in widths]
            + [Case("orthonormal", w, w, per_dk * w * w, tag="width") for w in widths]
            + [Case("random", D, k, per_dk * D * k, tag="dimension") for D in dims]
            + [Case("random", d, k, m * d * k, tag="samples") for m in multiples])


def _recovery(d: int, k: int, per_dk: int, families=planted.FAMILIES) -> list[Case]:
    """Every family at its default knobs (docs/evaluation.md), ``per_dk * d * k`` noiseless rows."""
    return [Case(family, d, k, per_dk * d * k) for family in families]


def planted_truth(case: Case, seed: int) -> ReLUNetwork:
    """The zoo's network of ``case`` for ``seed``."""
    return planted.make(case.family, case.d, case.k, random_state=seed, **dict(case.knobs))


@dataclass
class Suite:
    cases: list[Case]
    seeds: int
    methods: tuple[str, ...]
    sweep_methods: tuple[str, ...] = ("auto", "adam")
    safran_ks: tuple[int, ...] = ()
    safran_runs: int = 200
    paper_seeds: int | None = None
    extra: dict = field(default_factory=dict)
    #: ``plan(seeds, methods) -> [(case, seed, methods)]`` replacing ``cases`` x ``range(seeds)``.
    plan: Callable | None = None
    #: ``truth(case, seed) -> ReLUNetwork``.
    truth: Callable[[Case, int], ReLUNetwork] = planted_truth


SUITES = {
    "quick": Suite(_zoo(10, 3, 500) + _sweeps(10, 3, 500, (2, 4, 6), (10, 20, 40), (50, 100, 200, 400)), seeds=1,
                   methods=OURS + BASELINE_NAMES),
    "standard": Suite(_zoo(20, 4, 500) + [Case("random", 20, 4, 40_000, 0.1), Case("random", 20, 4, 40_000, 0.5)]
                      + _sweeps(20, 4, 500, (2, 4, 6, 8), (10, 20, 50, 100), (50, 100, 200, 400, 800)),
                      seeds=3, methods=OURS + BASELINE_NAMES, paper_seeds=1),
    "full": Suite(_zoo(50, 8, 400) + _zoo(200, 8, 300)
                  + [Case("random", 50, 8, 160_000, s) for s in (0.1, 0.5)]
                  + _sweeps(50, 5, 400, (2, 4, 6, 8, 12, 16), (10, 25, 50, 100, 200), (50, 100, 200, 400, 800)),
                  seeds=10, methods=OURS + BASELINE_NAMES),
    "safran": Suite([Case("orthonormal", k, k, 500 * k * k, tag="safran") for k in range(6, 15)], seeds=2,
                    methods=("auto", "adam"), safran_ks=tuple(range(6, 15))),
    # auto alone, for the share of seeds recovered (issue: >= 99% for k <= 8, d <= 200).
    "recovery": Suite(_recovery(20, 4, 500) + _recovery(50, 8, 250) + [Case("orthonormal", 20, 20, 500 * 20 * 20)],
                      seeds=10, methods=("auto",)),
    "recovery-large": Suite(_recovery(100, 8, 375) + _recovery(100, 14, 215) + _recovery(200, 8, 250),
                            seeds=2, methods=("auto",)),
    # auto alone on noisy data, against the oracle (refinement started at the truth, same rows).
    "noisy": Suite([Case("random", d, k, n, noise) for d, k, n in ((20, 4, 40_000), (50, 8, 160_000), (100, 5, 100_000))
                    for noise in (0.1, 0.5)], seeds=5, methods=("auto",)),
    "throughput": Suite([], seeds=0, methods=(), extra={"throughput": True}),
    # hidden biases b ~ N(0, 1): every family noiseless, random noisy (against the oracle), auto and adam.
    "bias": Suite([Case(family, d, k, per_dk * d * k, knobs=(("biases", 1.0),), tag="bias")
                   for d, k, per_dk in ((10, 4, 1000), (20, 6, 1000)) for family in planted.FAMILIES]
                  + [Case("random", 20, 4, 40_000, noise, knobs=(("biases", 1.0),), tag="bias")
                     for noise in (0.1, 0.5)], seeds=3, methods=("auto", "adam")),
    # auto alone on fresh seeds with every knob drawn at random (never tuned on; generalization.py).
    "generalization": Suite([], seeds=generalization.DEFAULT_SEEDS, methods=("auto",), plan=generalization.plan,
                            truth=generalization.build),
    # the same with hidden biases, 1000 d k rows (generalization.BIASED_STRUCTURES; its own fresh seeds).
    "generalization-biased": Suite([], seeds=generalization.DEFAULT_SEEDS, methods=("auto",),
                                   plan=generalization.plan_biased, truth=generalization.build),
    # identify against learn on queryable networks: its own cases (narrowrelu.bench.queries).
    "queries": Suite([], seeds=0, methods=(), extra={"queries": True}),
    # learn beyond its kept rows, streamed from a .npy pair, against the all-rows oracle (efficiency.py).
    "efficiency": Suite([], seeds=0, methods=(), extra={"efficiency": True}),
    # CI's smoke test of the harness: one family, one seed, every method, a small Safran check.
    "smoke": Suite([Case("random", 6, 2, 6000)], seeds=1, methods=OURS + BASELINE_NAMES, safran_ks=(6,),
                   safran_runs=20),
}

#: Safran and Shamir 2018, % of population-GD runs ending in a spurious minimum (docs/evaluation.md).
SAFRAN_REFERENCE = {6: 0.3, 7: 5.5, 8: 12.6, 9: 21.8, 10: 34.6, 11: 45.5, 12: 58.5, 13: 73.0, 14: 73.6, 15: 80.3,
                    16: 85.1, 17: 89.7, 18: 90.0, 19: 93.4, 20: 94.9}
SAFRAN_REFERENCE_RUNS = 1000


#: Passes of the oracle's streamed least squares over all training rows, at most (ours).
ORACLE_PASSES = 10


def oracle_excess_risk(X, y, truth: ReLUNetwork, validation_fraction: float = 0.2, memory: Memory | None = None,
                       engine: Engine | None = None) -> float:
    """Excess risk of the refinement started at ``truth`` on the training rows ``learn`` fits on
    (its biases included, on the augmented rows (x, 1), when it has them).

    The refinement runs on the rows ``learn`` keeps (under the budget ``memory``, default
    ``learn``'s); when the training rows are more than those, it continues with the streamed
    least squares over all of them (:func:`narrowrelu.streamed.least_squares`, at most
    ``ORACLE_PASSES`` passes of ``engine``): the oracle sees every row the user gave, as ``learn`` does.
    """
    budget = memory or Memory()  # learn's default budget: the rows it keeps
    plan = RowPlan.for_rows(len(y), validation_fraction, budget.validation_rows(truth.d), budget.kept_rows(truth.d))
    kept = plan.kept(0, len(y))
    inputs = X[kept] if truth.biases is None else augment(X[kept])
    with threadpool_limits(1, user_api="blas"):
        U, fit = refine(inputs, y[kept], rows(truth), None, max_iter=AutoOptions().polish_iter)
    net = to_network(U, fit, None, truth.d)
    if kept.sum() < len(y) - plan.n_validation():  # more training rows than kept: all of them
        net = least_squares(net, engine or Engine(), open_source(X, y), plan, ORACLE_PASSES, budget)[0]
    return population_mse(net, truth)


def _error(model, truth: ReLUNetwork, seed: int) -> dict:
    if isinstance(model, ReLUNetwork):
        return {"relative_error": relative_error(model, truth), "error_kind": "exact"}
    from ..baselines import monte_carlo_relative_error

    error, se = monte_carlo_relative_error(model, truth, random_state=seed + 77)
    return {"relative_error": error, "error_kind": "monte-carlo", "error_standard_error": se}


#: Epochs of each trial learning rate when tuning (one restart each; ours).
TUNING_EPOCHS = 20


def tuned_learning_rate(tuning_truth: ReLUNetwork, n: int, k: int, optimizer: str = "adam") -> float:
    """The best learning rate of the baselines' grid on ``n`` rows drawn from ``tuning_truth``.

    ``tuning_truth`` is the instance planted with the separate seed ``TUNING_SEED``, never the
    one the comparison runs on; its rows are drawn with seed ``TUNING_SEED + 1``.
    """
    from ..baselines import tune_learning_rate

    X, y = planted.sample(tuning_truth, n, random_state=TUNING_SEED + 1)
    return tune_learning_rate(X, y, k, optimizer=optimizer, epochs=TUNING_EPOCHS, random_state=TUNING_SEED)[0]


def tuned_adam(X, y, k: int, tuning_truth: ReLUNetwork, *, random_state: int,
               truth: ReLUNetwork | None = None) -> ReLUNetwork:
    """The harness's ``adam`` baseline: learning rate tuned on ``tuning_truth`` (:func:`tuned_learning_rate`),
    then ``RESTARTS`` restarts of ``EPOCHS`` epochs on ``(X, y)``, best by held-out loss.

    With ``truth`` (noiseless data), training stops the moment the exact error reaches
    ``RECOVERED``. Needs torch. ``report`` records the learning rate, epochs and restarts.
    """
    from ..baselines import BASELINES

    lr = tuned_learning_rate(tuning_truth, len(y), k)
    stop = None if truth is None else (lambda net: relative_error(net, truth) <= RECOVERED)
    return BASELINES["adam"](X, y, k, lr=lr, random_state=random_state, stop=stop)


class _Rates:
    """Learning rates tuned once per (family, optimiser) on a separate seed."""

    def __init__(self, truth=planted_truth):
        self.cache: dict[tuple[str, str], float] = {}
        self.truth = truth

    def get(self, case: Case, method: str) -> float | None:
        if method not in ("adam", "sgd", "adam-wide", "zhong17"):
            return None
        optimizer = "sgd" if method == "sgd" else "adam"
        key = (case.family, optimizer)
        if key not in self.cache:
            self.cache[key] = tuned_learning_rate(self.truth(case, TUNING_SEED), case.n, case.k, optimizer)
        return self.cache[key]


def run_one(case: Case, seed: int, method: str, X, y, truth: ReLUNetwork, rates: _Rates,
            options: dict | None = None) -> dict:
    """One method on one sampled instance: the record; ``options`` go to ``learn`` for our methods."""
    record = asdict(case) | {"knobs": dict(case.knobs), "seed": seed, "method": method, "note": ""}
    lr = rates.get(case, method)
    start = time.perf_counter()
    with PeakRSS() as memory:
        try:
            if method in OURS:
                model = learn(X, y, case.k, method=method, random_state=seed, **(options or {}))
                record |= {"passes": model.report.passes, "samples_used": model.report.n_train}
            else:
                from ..baselines import BASELINES

                # Noiseless: stop the moment the target is reached; noisy: train to the full budget.
                stop = None if case.noise else (lambda net: relative_error(net, truth) <= RECOVERED)
                model = BASELINES[method](X, y, case.k, lr=lr, random_state=seed, stop=stop)
                report = getattr(model, "report", None) or {}
                record |= {"samples_used": len(y), "lr": lr, "epochs": report.get("epochs"),
                           "restarts": report.get("restarts")}
        except (ValueError, RuntimeError) as exc:  # a refused eta-net, a diverged optimiser
            model, record["note"] = None, str(exc).split(";")[0][:200]
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["peak_memory_mb"] = None if memory.added_mb is None else round(memory.added_mb, 1)
    record |= _error(model, truth, seed) if model is not None else {"relative_error": float("nan"),
                                                                    "error_kind": "failed"}
    record["recovered"] = bool(record["relative_error"] <= RECOVERED)
    if case.noise and model is not None:
        record["excess_risk"] = record["relative_error"] * variance(truth)
    return record


def _key(record: dict) -> tuple:
    return (record["family"], record["d"], record["k"], record["n"], record["noise"],
            json.dumps(record["knobs"], sort_keys=True), record["tag"], record["seed"], record["method"])


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _meta(suite: str, options: dict, seeds: int | None = None, methods=None, rows_per_dk: int | None = None) -> dict:
    from .. import __version__
    from ..moments import default_n_jobs

    command = (f"narrowrelu bench --suite {suite}" + (f" --methods {','.join(methods)}" if methods else "")
               + (f" --seeds {seeds}" if seeds else "")
               + (f" --rows-per-dk {rows_per_dk}" if rows_per_dk else "")
               + "".join(f" --option {name}={json.dumps(value)}" for name, value in options.items()))
    return {"suite": suite, "date": time.strftime("%Y-%m-%d %H:%M"), "commit": _commit(), "version": __version__,
            "machine": platform.machine(), "processor": platform.processor(), "cores": default_n_jobs(),
            "python": platform.python_version(), "command": command, "options": options}


def _plan(spec: Suite, methods, seeds, rows_per_dk: int | None = None) -> list[tuple[Case, int, list[str]]]:
    """(case, seed, methods) triples; the slow paper methods run on the first ``paper_seeds`` seeds only.

    ``rows_per_dk`` replaces every case's row count by ``rows_per_dk * d * k`` (a sample-size ablation).
    """
    if rows_per_dk is not None:
        return [(replace(case, n=rows_per_dk * case.d * case.k), seed, chosen)
                for case, seed, chosen in _plan(spec, methods, seeds)]
    if spec.plan is not None:
        return spec.plan(seeds, methods or spec.methods)
    runs = []
    for case in spec.cases:
        chosen = methods or (spec.methods if case.tag in ("zoo", "safran") else spec.sweep_methods)
        for seed in range(seeds if seeds is not None else spec.seeds):
            paper = spec.paper_seeds is None or seed < spec.paper_seeds
            runs.append((case, seed, [m for m in chosen if paper or m not in OURS[1:]]))
    return runs


def run(suite: str, out: Path, *, methods: list[str] | None = None, seeds: int | None = None,
        options: dict | None = None, rows_per_dk: int | None = None, progress=None) -> dict:
    """Run (or continue) ``suite``; write results.json, results.md and the plots under ``out``.

    ``options`` are passed to ``learn`` for our methods and recorded in ``meta``; ``rows_per_dk``
    sets every case's rows to ``rows_per_dk * d * k``; ``progress(done, total, label)`` is called
    after every run.
    """
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; expected one of {', '.join(SUITES)}")
    unknown = sorted(set(methods or ()) - set(OURS) - set(BASELINE_NAMES))
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; expected {', '.join(OURS + BASELINE_NAMES)}")
    spec = SUITES[suite]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if spec.extra.get("queries"):
        from .queries import run as run_queries

        return run_queries(out, _meta(suite, {}, seeds), progress, seeds=seeds)
    if spec.extra.get("efficiency"):
        from .efficiency import run as run_efficiency

        return run_efficiency(out, _meta(suite, dict(options or {}), seeds), progress, options=options, seeds=seeds)
    file = out / "results.json"
    options = dict(options or {})
    meta = _meta(suite, options, seeds, methods, rows_per_dk)
    results = json.loads(file.read_text()) if file.exists() else {"meta": meta, "records": []}
    if results["meta"].get("options", {}) != json.loads(json.dumps(options)):
        raise ValueError(f"{file} holds results for the options {results['meta'].get('options', {})}, not "
                         f"{options}; choose another --out directory")
    done = {_key(r) for r in results["records"]}
    plan = _plan(spec, methods, seeds, rows_per_dk)
    total = sum(len(m) for _, _, m in plan) + len(spec.safran_ks) + bool(spec.extra)
    count = 0
    rates = _Rates(spec.truth)

    def save(record: dict | None = None, label: str = "") -> None:
        nonlocal count
        if record is not None:
            results["records"].append(record)
            temporary = file.with_suffix(".tmp")
            temporary.write_text(json.dumps(results, indent=1, default=float))
            temporary.replace(file)
        count += 1
        if progress:
            progress(count, total, label)

    for k in spec.safran_ks:
        key = ("orthonormal", k, k, 0, 0.0, "{}", "safran-population", 0, "population-gd")
        if key not in done:
            save(safran_record(k, spec.safran_runs), f"population GD k={k}")
        else:
            save(label="skipped")
    for case, seed, chosen in plan:
        truth = spec.truth(case, seed)
        X = y = None
        for method in chosen:
            probe = asdict(case) | {"knobs": dict(case.knobs), "seed": seed, "method": method}
            if _key(probe) in done:
                save(label="skipped")
                continue
            if X is None:
                X, y = planted.sample(truth, case.n, noise=case.noise, random_state=1000 + seed)
                budget = Memory(check_memory(options["memory"])) if "memory" in options else None
                oracle = oracle_excess_risk(X, y, truth, memory=budget) if case.noise else None
            record = run_one(case, seed, method, X, y, truth, rates, options)
            if oracle is not None and "excess_risk" in record:
                record |= {"oracle_excess_risk": oracle, "ratio_to_oracle": record["excess_risk"] / oracle}
            save(record, f"{case.family} d={case.d} k={case.k} seed={seed} {method}")
    if spec.extra.get("throughput"):
        if not any(r.get("method") == "throughput" for r in results["records"]):
            from .throughput import throughput_record

            save(throughput_record(out), "throughput")
        else:
            save(label="skipped")
    results["meta"]["finished"] = time.strftime("%Y-%m-%d %H:%M")
    file.write_text(json.dumps(results, indent=1, default=float))
    from .report import write_markdown, write_plots

    write_markdown(results, out / "results.md")
    write_plots(results, out)
    return results


def safran_record(k: int, runs: int) -> dict:
    """Population GD on the orthonormal target with k = d: % spurious with a binomial standard error."""
    from ..baselines import population_gradient_descent

    start = time.perf_counter()
    result = population_gradient_descent(np.eye(k), runs=runs, random_state=k)
    p = float(result["spurious"].mean())
    reference = SAFRAN_REFERENCE.get(k)
    se = np.sqrt(max(p * (1 - p), 1e-12) / runs + (reference / 100 * (1 - reference / 100) / SAFRAN_REFERENCE_RUNS
                                                   if reference is not None else 0.0))
    return {"family": "orthonormal", "d": k, "k": k, "n": 0, "noise": 0.0, "knobs": {}, "tag": "safran-population",
            "seed": 0, "method": "population-gd", "runs": runs, "spurious": int(result["spurious"].sum()),
            "spurious_percent": 100 * p, "standard_error_percent": 100 * float(np.sqrt(p * (1 - p) / runs)),
            "reference_percent": reference,
            "z_vs_reference": None if reference is None else float((100 * p - reference) / (100 * se)),
            "converged": int(result["converged"].sum()), "median_iterations": float(np.median(result["iterations"])),
            "step": result["step"], "seconds": round(time.perf_counter() - start, 2)}
