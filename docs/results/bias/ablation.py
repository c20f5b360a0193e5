"""Ablations of the biased step: rerun the runs of a zoo.py file in which a mechanism acted, without it.

``t1`` (the T1 direction), with another copy of the learner: the runs in which that direction joined V
(``linear_direction`` > 0); on every other run the two learners give the same network (the direction
is the only difference, and draws nothing). ``refits`` (the whole-space refits), with this learner and
``whole_space_refits=0``: the runs with more than one biased fit (``biased_fits`` > 1); on every other
run the refits did not run and the network is the same.

Usage: ``[PYTHONPATH=/path/to/other/src] python docs/results/bias/ablation.py IN.jsonl OUT.jsonl LABEL [t1|refits]``.
"""

import json
import sys
import time
import warnings

from narrowrelu import learn, planted, relative_error


def main(source: str, out: str, label: str, mechanism: str = "t1") -> None:
    with open(source) as file:
        runs = [json.loads(line) for line in file]
    acted = {"t1": lambda run: run.get("linear_direction"), "refits": lambda run: run.get("biased_fits", 0) > 1}
    options = {"refits": {"whole_space_refits": 0}}.get(mechanism, {})
    with open(out, "a") as file:
        for run in runs:
            if not acted[mechanism](run) or run["noise"]:
                continue
            truth = planted.make(run["family"], d=run["d"], k=run["k"], random_state=run["seed"], biases=1.0)
            X, y = planted.sample(truth, run["n"], random_state=run["seed"] + 1)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = learn(X, y, k=run["k"], random_state=run["seed"], **options)
            record = {key: run[key] for key in ("family", "d", "k", "n", "seed")}
            record.update(learner=label, seconds=round(time.perf_counter() - start, 2),
                          relative_error=relative_error(net, truth), with_mechanism=run["relative_error"],
                          with_mechanism_commit=run["commit"], mechanism=mechanism)
            file.write(json.dumps(record) + "\n")
            file.flush()


if __name__ == "__main__":
    main(*sys.argv[1:5])
