"""Spot check: ``auto`` on each family at the given size, one JSON line per run.

Run as ``python docs/results/spot/d100_k14.py random,close-pair,vanishing 100 14 150000 5``
(arguments: families, d, k, rows, seed). Records, each a command like the above per seed:

- ``d100_k14_n150000_seed5.jsonl``: commit 0eb3999 (close pair missed, 2.0e-4);
- ``d100_k14_n150000_close-pair_seeds0-5.jsonl``, ``d100_k14_n150000_seeds0-2.jsonl``
  (cluster, vanishing, conditioned, random), ``d20_k14_n100000_seed0.jsonl``,
  ``d20_k14_n40000_seed1.jsonl`` (cluster missed, 6.4e-4) and ``d50_k14_n100000_seed1.jsonl``:
  commit 4cd9980;
- ``d20_k14_n40000_seeds0-2.jsonl`` and ``d100_k14_n150000_close-pair_42f3208.jsonl``:
  commit 42f3208.
- ``d100_k14_n150000_close-pair_066bc36.jsonl`` (seeds 5 and 0): commit 066bc36.

Two such commands, or one beside a benchmark suite, shared the 2-core machine throughout.
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
