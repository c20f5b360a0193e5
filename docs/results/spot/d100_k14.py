"""Spot check: ``auto`` on each family at the given size, one JSON line per run.

Run as ``python docs/results/spot/d100_k14.py random,close-pair,vanishing 100 14 150000 5``
(arguments: families, d, k, rows, seed). The record ``d100_k14_n150000_seed5.jsonl`` came
from commit 0eb3999, two such commands running side by side on the 2-core machine;
``d100_k14_n150000_close-pair_seeds0-5.jsonl`` from commit 4cd9980 (seeds 0 to 5 one after
another, a benchmark suite sharing the machine), and ``d100_k14_n150000_seeds0-2.jsonl``
(cluster, vanishing, conditioned, random) from the same commit beside it.
"""

import json
import sys
import time

from narrowrelu import learn, planted
from narrowrelu.metrics import relative_error

families = sys.argv[1].split(",")
d, k, n, seed = (int(v) for v in sys.argv[2:6])
for family in families:
    truth = planted.make(family, d, k, random_state=seed)
    X, y = planted.sample(truth, n, random_state=seed + 1)
    start = time.perf_counter()
    net = learn(X, y, k, random_state=seed)
    print(json.dumps({"family": family, "d": d, "k": k, "n": n, "seed": seed,
                      "seconds": round(time.perf_counter() - start, 1),
                      "relative_error": relative_error(net, truth), "passes": net.report.passes}), flush=True)
