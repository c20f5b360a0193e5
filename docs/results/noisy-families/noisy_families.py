"""Spot check: ``auto`` on noisy data from other families, excess risk against the oracle's.

Run as ``python docs/results/noisy-families/noisy_families.py 20 4 40000 orthonormal,close-pair 2``
(arguments: d, k, rows, families, seeds); one JSON line per run, σ = 0.1 and 0.5. The oracle
is the benchmark's (:func:`narrowrelu.bench.harness.oracle_excess_risk`: our refinement
started at the true network, on the rows ``learn`` fits). ``d20_k4_n40000_seeds0-1.jsonl``
came from commit 4cd9980 (2026-11-28 09:52, a benchmark suite sharing the machine), run by a
scratch copy of this script with the same steps; ``d50_k8_n160000_seed0.jsonl`` from this
script at commit 7f41e99 (11:05, the machine otherwise idle).
"""

import json
import sys
import time
import warnings

from narrowrelu import learn, planted
from narrowrelu.bench.harness import oracle_excess_risk
from narrowrelu.metrics import population_mse

warnings.simplefilter("ignore")
d, k, n = (int(v) for v in sys.argv[1:4])
families, seeds = sys.argv[4].split(","), range(int(sys.argv[5]))
for family in families:
    for noise in (0.1, 0.5):
        for seed in seeds:
            truth = planted.make(family, d, k, random_state=seed)
            X, y = planted.sample(truth, n, noise=noise, random_state=seed + 1)
            start = time.perf_counter()
            net = learn(X, y, k, random_state=seed)
            seconds = time.perf_counter() - start
            ours, oracle = population_mse(net, truth), oracle_excess_risk(X, y, truth)
            print(json.dumps({"family": family, "d": d, "k": k, "n": n, "noise": noise, "seed": seed,
                              "seconds": round(seconds, 1), "ratio": ours / oracle, "excess": ours,
                              "oracle": oracle}), flush=True)
