"""Tuned Adam beside ``learn`` on the same biased instances, in the same run.

Usage: ``python docs/results/bias/adam.py OUT.jsonl SEED0 SEEDS``; one JSON line per run. ``SHAPES``
(default ``10x4,20x6``), ``FAMILIES`` (default ``random,close-pair,cluster``) and ``ROWS_PER_DK`` (default
500) as in ``zoo.py``. Teachers ``planted.make(family, d, k, random_state=seed, biases=1.0)``, rows
``random_state=seed + 1``, noiseless. Adam is run as in ``narrowrelu.bench.speed`` (batch 1024, restarts
capped at 12 epochs, hidden biases, float32, budget ``max(20 x ours, 60 s)``), its learning rate tuned per
shape on the separate biased ``random`` instance of seed 10 000; it is timed to 1e-3 and to 1e-8 (exact
relative population error at each epoch's end).
"""

import json
import os
import subprocess
import sys
import time

from narrowrelu import learn, planted, relative_error
from narrowrelu.bench.speed import BUDGET_FACTOR, MIN_BUDGET, adam_times, gram_seconds, tune_learning_rate

ROWS_PER_DK = int(os.environ.get("ROWS_PER_DK", "500"))
SHAPES = tuple(tuple(int(v) for v in s.split("x")) for s in os.environ.get("SHAPES", "10x4,20x6").split(","))
FAMILIES = tuple(os.environ.get("FAMILIES", "random,close-pair,cluster").split(","))


def main(out: str, seed0: int, seeds: int) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with open(out, "a") as file:
        for d, k in SHAPES:
            n = ROWS_PER_DK * d * k
            lr, tuning = tune_learning_rate(d, k, n, MIN_BUDGET, biases=1.0)
            for seed in range(seed0, seed0 + seeds):
                for family in FAMILIES:
                    truth = planted.make(family, d=d, k=k, random_state=seed, biases=1.0)
                    X, y = planted.sample(truth, n, random_state=seed + 1)
                    start = time.perf_counter()
                    net = learn(X, y, k=k, random_state=seed)
                    ours = time.perf_counter() - start
                    adam = adam_times(X, y, k, truth, lr, max(BUDGET_FACTOR * ours, MIN_BUDGET), random_state=seed)
                    record = {"family": family, "d": d, "k": k, "n": n, "seed": seed, "commit": commit,
                              "gram_seconds": gram_seconds(X), "ours_seconds": round(ours, 2),
                              "ours_error": relative_error(net, truth), "adam_lr": lr,
                              "adam_tuning_seconds_to_1e-3": tuning, "adam": adam}
                    file.write(json.dumps(record) + "\n")
                    file.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
