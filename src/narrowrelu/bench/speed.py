"""The easy case against tuned Adam: ``random`` (d=100, k=5), times to 1e-3 and to 1e-8, in Gram passes.

Run ``python -m narrowrelu.bench.speed [--n N] [--seeds S]``. The unit of cost is one pass of
``X.T @ X`` over the same rows (one BLAS thread, best of three; docs/evaluation.md). Adam is run
as practitioners run it: batch ``BATCH``, restarts capped at ``RESTART_EPOCHS`` epochs each, hidden
biases, float32; its learning rate is the one of ``LR_GRID`` that reaches ``TARGETS[0]`` soonest on
a separate instance (seed ``TUNING_SEED``). On every seed, one Adam run is timed to both targets
(the first epoch whose exact relative error is at most 1e-3, then at most 1e-8; it stops at the
second or when its budget ``max(BUDGET_FACTOR x ours, MIN_BUDGET)`` runs out). ``auto`` runs with its
defaults (to exactness, against Adam's time to 1e-8) and with ``tol=1e-3`` (against its time to 1e-3),
after a first call on the tuning instance, timed apart (``ours_first_call_seconds``: a process's imports
and first allocations, which Adam's timed runs do not pay either). Each stage's seconds are also given
in Gram passes (where the passes go). Prints one JSON record per seed, then the medians and the ratios
of median times.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from .. import planted
from .._arrays import single_blas_thread
from .._learn import learn
from ..baselines import gradient_descent
from ..metrics import relative_error

#: Adam's learning rates to choose from, its batch, its epochs per restart (restarts are capped).
LR_GRID = (0.1, 0.03, 0.01, 0.003)
BATCH, RESTART_EPOCHS, MAX_RESTARTS = 1024, 12, 1000
#: Relative population errors timed: the practitioner's target and exactness.
TARGETS = (1e-3, 1e-8)
TUNING_SEED = 10_000
BUDGET_FACTOR = 20
MIN_BUDGET = 60.0


def gram_seconds(X: np.ndarray, repeats: int = 3) -> float:
    """Seconds of one ``X.T @ X`` with one BLAS thread, best of ``repeats``."""
    best = np.inf
    with single_blas_thread():
        for _ in range(repeats):
            start = time.perf_counter()
            X.T @ X
            best = min(best, time.perf_counter() - start)
    return best


def adam_times(X, y, k: int, truth, lr: float, budget: float, random_state: int) -> dict:
    """One capped-restart Adam run timed to every target of ``TARGETS`` (``None``: not reached)."""
    reached: dict[float, float] = {}
    start = time.perf_counter()

    def stop(net) -> bool:
        error = relative_error(net, truth)
        for target in TARGETS:
            if error <= target and target not in reached:
                reached[target] = time.perf_counter() - start
        return error <= TARGETS[-1]

    net = gradient_descent(X, y, k, lr=lr, batch_size=BATCH, epochs=RESTART_EPOCHS, restarts=MAX_RESTARTS,
                           time_budget=budget, random_state=random_state, stop=stop)
    return {"seconds_to": {str(t): reached.get(t) for t in TARGETS}, "error": relative_error(net, truth),
            "epochs": net.report["epochs"], "restarts": net.report["restarts"], "budget_seconds": budget}


def _tuning_instance(d: int, k: int, n: int, family: str = "random", biases: float = 0.0):
    """The separate instance of seed ``TUNING_SEED``: its teacher and ``n`` rows."""
    truth = planted.make(family, d, k, random_state=TUNING_SEED, biases=biases)
    return (truth, *planted.sample(truth, n, random_state=TUNING_SEED + 1))


def tune_learning_rate(d: int, k: int, n: int, budget: float, family: str = "random",
                       biases: float = 0.0) -> tuple[float, dict[str, float | None]]:
    """The rate of ``LR_GRID`` reaching ``TARGETS[0]`` soonest on the separate instance ``TUNING_SEED``."""
    truth, X, y = _tuning_instance(d, k, n, family, biases)
    times = {}
    for lr in LR_GRID:
        times[str(lr)] = adam_times(X, y, k, truth, lr, budget, random_state=0)["seconds_to"][str(TARGETS[0])]
    best = min(LR_GRID, key=lambda lr: np.inf if times[str(lr)] is None else times[str(lr)])
    return best, times


def run(d: int = 100, k: int = 5, n: int = 100_000, seeds: int = 3, min_budget: float = MIN_BUDGET,
        budget_factor: float = BUDGET_FACTOR) -> dict:
    lr, tuning = tune_learning_rate(d, k, n, min_budget)
    first_call = _first_call_seconds(d, k, n)  # Adam's first steps were taken while tuning; ours here
    records = []
    for seed in range(seeds):
        truth = planted.make("random", d, k, random_state=seed)
        X, y = planted.sample(truth, n, random_state=seed + 1)
        gram = gram_seconds(X)
        start = time.perf_counter()
        ours = learn(X, y, k, random_state=seed)
        ours_seconds = time.perf_counter() - start
        start = time.perf_counter()
        quick = learn(X, y, k, random_state=seed, tol=TARGETS[0])
        quick_seconds = time.perf_counter() - start
        adam = adam_times(X, y, k, truth, lr, max(budget_factor * ours_seconds, min_budget), random_state=seed)
        stages = _stage_seconds(ours.report)
        records.append({"seed": seed, "gram_seconds": gram, "ours_seconds": ours_seconds,
                        "ours_gram_passes": ours_seconds / gram, "ours_error": relative_error(ours, truth),
                        "ours_stage_seconds": stages,
                        "ours_stage_gram_passes": {s: t / gram for s, t in stages.items()},
                        "tol_seconds": quick_seconds, "tol_gram_passes": quick_seconds / gram,
                        "tol_error": relative_error(quick, truth), "adam": adam})
        print(json.dumps(records[-1]), flush=True)
    ours_median = float(np.median([r["ours_seconds"] for r in records]))
    summary = {"d": d, "k": k, "n": n, "targets": list(TARGETS), "adam_lr": lr, "lr_tuning_seconds_to_1e-3": tuning,
               "ours_first_call_seconds": first_call,
               "median_ours_seconds": ours_median,
               "median_ours_gram_passes": float(np.median([r["ours_gram_passes"] for r in records])),
               "median_tol_seconds": float(np.median([r["tol_seconds"] for r in records])),
               "records": records, "machine": platform.machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    for target in TARGETS:
        adam_median = float(np.median([r["adam"]["seconds_to"][str(target)] or np.inf for r in records]))
        summary[f"median_adam_seconds_to_{target:g}"] = adam_median
        summary[f"ratio_ours_to_adam_{target:g}"] = ours_median / adam_median
    summary[f"ratio_tol_to_adam_{TARGETS[0]:g}"] = summary["median_tol_seconds"] / summary[
        f"median_adam_seconds_to_{TARGETS[0]:g}"]
    return summary


def _first_call_seconds(d: int, k: int, n: int) -> float:
    """Seconds of ``learn``'s first call in the process (its imports and first allocations), on the
    tuning instance: reported apart, so that every seed is timed warm, as Adam is after its tuning."""
    _, X, y = _tuning_instance(d, k, n)
    start = time.perf_counter()
    learn(X, y, k, random_state=TUNING_SEED)
    return time.perf_counter() - start


def _stage_seconds(report) -> dict[str, float]:
    """Seconds per stage name (moments, subspace, neurons, polish), summed over the stage's records."""
    totals: dict[str, float] = {}
    for record in report.stages:
        totals[record["stage"]] = totals.get(record["stage"], 0.0) + record["seconds"]
    return totals


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(run(n=args.n, seeds=args.seeds), indent=1))


if __name__ == "__main__":
    main()
