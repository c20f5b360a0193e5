"""Time to relative error 1e-3 on ``random`` (d=100, k=5): ``auto`` against PyTorch Adam, same data.

Run ``python -m narrowrelu.bench.speed [--n N] [--seeds S]``. Adam's learning rate is tuned
once on a separate seed (``tune_learning_rate``: best held-out loss after ``TUNE_EPOCHS``); then each seed
is learned by ``auto`` and by Adam (restarts, early stop the moment the exact relative error
reaches the target, time budget ``max(BUDGET_FACTOR x ours, MIN_BUDGET)`` seconds). Prints
one JSON record per seed and the ratio of median times.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from .. import planted
from .._learn import learn
from ..baselines import gradient_descent, tune_learning_rate
from ..metrics import relative_error

TUNE_EPOCHS = 40
BUDGET_FACTOR = 20
MIN_BUDGET = 60.0
TARGET = 1e-3


def run(d: int = 100, k: int = 5, n: int = 100_000, seeds: int = 3, min_budget: float = MIN_BUDGET,
        budget_factor: float = BUDGET_FACTOR) -> dict:
    X, y = planted.sample(planted.make("random", d, k, random_state=10_000), n, random_state=10_001)
    lr, tuning = tune_learning_rate(X, y, k, epochs=TUNE_EPOCHS, random_state=0)
    records = []
    for seed in range(seeds):
        truth = planted.make("random", d, k, random_state=seed)
        X, y = planted.sample(truth, n, random_state=seed + 1)
        start = time.perf_counter()
        ours = learn(X, y, k, random_state=seed)
        ours_seconds = time.perf_counter() - start
        budget = max(budget_factor * ours_seconds, min_budget)
        adam = gradient_descent(X, y, k, lr=lr, epochs=10_000, restarts=10, time_budget=budget, random_state=seed,
                                stop=lambda net, truth=truth: relative_error(net, truth) <= TARGET)
        records.append({
            "seed": seed, "ours_seconds": ours_seconds, "ours_error": relative_error(ours, truth),
            "ours_stage_seconds": _stage_seconds(ours.report),
            "adam_seconds_to_target": adam.report["stopped_at_seconds"], "adam_error": relative_error(adam, truth),
            "adam_budget_seconds": budget, "adam_epochs": adam.report["epochs"],
            "adam_restarts": adam.report["restarts"],
        })
        print(json.dumps(records[-1]), flush=True)
    adam_times = [r["adam_seconds_to_target"] or np.inf for r in records]
    return {
        "d": d, "k": k, "n": n, "target": TARGET, "adam_lr": lr, "lr_tuning_errors": tuning,
        "median_ours_seconds": float(np.median([r["ours_seconds"] for r in records])),
        "median_adam_seconds": float(np.median(adam_times)),
        "ratio_ours_to_adam": float(np.median([r["ours_seconds"] for r in records]) / np.median(adam_times)),
        "records": records, "machine": platform.machine(), "date": time.strftime("%Y-%m-%d %H:%M"),
    }


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
