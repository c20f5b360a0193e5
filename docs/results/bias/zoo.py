"""Biased zoo on fresh seeds: ``learn`` (auto, defaults) on every family with b ~ N(0, 1), noiseless,
and ``random`` with noise against the oracle (refinement started at the truth, biases included).

Usage: ``python docs/results/bias/zoo.py OUT.jsonl SEED0 SEEDS [noisy|wide]``; one JSON line per run;
``SHAPES=10x4`` (environment) restricts the noiseless shapes (default ``10x4,20x6``), ``ROWS_PER_DK``
sets the rows (default 1000 d k), ``FAMILIES=random,cluster`` the families (default all).
``wide``: ``random`` only, k > d, shapes from ``SHAPES`` (e.g. ``8x16,10x20``).
Each line also lists the truth's unit biases (beta = b/|u|) and the share of rows each is active on.
"""

import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

from narrowrelu import learn, planted, relative_error
from narrowrelu.bench.harness import oracle_excess_risk
from narrowrelu.biases import unit_activity
from narrowrelu.metrics import variance

ROWS_PER_DK = int(os.environ.get("ROWS_PER_DK", "1000"))
SHAPES = tuple(tuple(int(v) for v in s.split("x")) for s in os.environ.get("SHAPES", "10x4,20x6").split(","))
FAMILIES = tuple(os.environ["FAMILIES"].split(",")) if "FAMILIES" in os.environ else planted.FAMILIES


def main(out: str, seed0: int, seeds: int, mode: str) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    if mode == "noisy":
        cases = [("random", 20, 4, 40_000, s) for s in (0.1, 0.5)]
    else:
        families = ("random",) if mode == "wide" else FAMILIES
        cases = [(f, d, k, ROWS_PER_DK * d * k, 0.0) for d, k in SHAPES for f in families]
    with open(out, "a") as file:
        for seed in range(seed0, seed0 + seeds):
            for family, d, k, n, noise in cases:
                truth = planted.make(family, d=d, k=k, random_state=seed, biases=1.0)
                X, y = planted.sample(truth, n, noise=noise, random_state=seed + 1)
                start = time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    net = learn(X, y, k=k, random_state=seed)
                record = {"family": family, "d": d, "k": k, "n": n, "noise": noise, "seed": seed, "commit": commit,
                          "seconds": round(time.perf_counter() - start, 2),
                          "relative_error": relative_error(net, truth),
                          "biased": net.biases is not None, "passes": net.report.passes,
                          "beta": np.round(truth.biases / np.linalg.norm(truth.directions, axis=1), 3).tolist(),
                          "active": np.round(unit_activity(truth, X), 4).tolist(),
                          "linear_direction": sum(s.get("linear_direction_off_V", 0) for s in net.report.stages),
                          "biased_fits": sum(s["stage"] == "neurons" and s.get("source") == "biased"
                                             for s in net.report.stages),
                          "warnings": [str(w.message)[:80] for w in caught]}
                if noise:
                    record["excess_risk"] = record["relative_error"] * variance(truth)
                    record["oracle_excess_risk"] = oracle_excess_risk(X, y, truth)
                file.write(json.dumps(record) + "\n")
                file.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "")
