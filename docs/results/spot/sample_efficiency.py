"""Spot check: auto on random d=20, k=4 at 12, 25, 50, 100 x dk noiseless rows, 5 seeds each.

Run from the repository root: ``python docs/results/spot/sample_efficiency.py``.
"""
import json
import subprocess
import time
import warnings

from narrowrelu import learn, planted, relative_error

warnings.simplefilter("ignore")
records = []
for multiple in (12, 25, 50, 100):
    for seed in range(5):
        truth = planted.make("random", 20, 4, random_state=seed)
        X, y = planted.sample(truth, multiple * 80, random_state=1000 + seed)
        start = time.perf_counter()
        error = relative_error(learn(X, y, 4, random_state=seed), truth)
        records.append({"rows_per_dk": multiple, "seed": seed, "relative_error": error,
                        "recovered": error <= 1e-4, "seconds": time.perf_counter() - start})
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print(json.dumps({"commit": commit, "date": time.strftime("%Y-%m-%d %H:%M"), "records": records}, indent=1))
