"""Bias-free outputs of ``learn`` on generalization instances, for a bit-identity check between two copies.

The first instance of each structure with d k <= 80; rows ``planted.sample(truth, case.n, noise=case.noise,
random_state=1000 + seed)``, ``learn(X, y, k=case.k, random_state=seed)``. Writes OUT.npz (weights,
directions, linear term, intercept) and OUT.json. Usage: ``PYTHONPATH=<copy>/src python bitidentity.py OUT``
for each copy, then compare the arrays with ``numpy.array_equal``.
"""
import json
import sys
import warnings

import numpy as np

import narrowrelu
from narrowrelu import learn, planted
from narrowrelu.bench import generalization as g

out = sys.argv[1]
picked = []
for s in ["random", "random-wide", "orthonormal", "conditioned", "close-pair", "cluster", "vanishing",
          "noisy-0.1", "noisy-0.5"]:
    for i in range(12):
        seed = g.seed_of(s, i)
        case = g.draw(s, seed)
        if case.d * case.k <= 80:
            picked.append((s, i, seed, case))
            break
result = {}
arrays = {}
for s, i, seed, case in picked:
    truth = g.build(case, seed)
    X, y = planted.sample(truth, case.n, noise=case.noise, random_state=1000 + seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = learn(X, y, k=case.k, random_state=seed)
    key = f"{s}-{i}"
    arrays[key + "-w"] = net.weights
    arrays[key + "-U"] = net.directions
    arrays[key + "-lin"] = np.atleast_1d(net.linear) if net.linear is not None else np.zeros(0)
    arrays[key + "-c"] = np.atleast_1d(net.intercept)
    result[key] = {"d": case.d, "k": case.k, "n": case.n, "noise": case.noise, "seed": seed,
                   "biases_none": net.biases is None, "passes": net.report.passes,
                   "file": narrowrelu.__file__}
    print(key, result[key], flush=True)
np.savez(out + ".npz", **arrays)
json.dump(result, open(out + ".json", "w"), indent=1)
