"""Ablation of the biased step's T1 direction: rerun, with another copy of the learner, the runs of
a zoo.py file in which that direction joined V (``linear_direction`` > 0); on every other run the
two learners give the same network (the direction is the only difference, and draws nothing).

Usage: ``PYTHONPATH=/path/to/other/src python docs/results/bias/ablation.py IN.jsonl OUT.jsonl LABEL``.
"""

import json
import sys
import time
import warnings

from narrowrelu import learn, planted, relative_error


def main(source: str, out: str, label: str) -> None:
    with open(source) as file:
        runs = [json.loads(line) for line in file]
    with open(out, "a") as file:
        for run in runs:
            if not run.get("linear_direction") or run["noise"]:
                continue
            truth = planted.make(run["family"], d=run["d"], k=run["k"], random_state=run["seed"], biases=1.0)
            X, y = planted.sample(truth, run["n"], random_state=run["seed"] + 1)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = learn(X, y, k=run["k"], random_state=run["seed"])
            record = {key: run[key] for key in ("family", "d", "k", "n", "seed")}
            record.update(learner=label, seconds=round(time.perf_counter() - start, 2),
                          relative_error=relative_error(net, truth), with_direction=run["relative_error"],
                          with_direction_commit=run["commit"])
            file.write(json.dumps(record) + "\n")
            file.flush()


if __name__ == "__main__":
    main(*sys.argv[1:4])
