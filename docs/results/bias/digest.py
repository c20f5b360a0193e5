"""Digests of ``learn``'s networks on ten fixed instances (six bias-free, four biased), for a bit-identity
check between two copies of the learner.

Usage: ``PYTHONPATH=<copy>/src python docs/results/bias/digest.py > OUT.txt`` for each copy, then ``diff``.
Bias-free rows 1000 d k, biased 500 d k; one line per instance: its recipe, a SHA-256 prefix of the
weights, directions, biases, linear term and intercept (bytes), the passes and the warnings.
"""
import hashlib
import warnings

import numpy as np

from narrowrelu import learn, planted

CASES = [("random", 20, 4, 0, 0.0, 0.0), ("cluster", 20, 4, 1, 0.0, 0.0), ("vanishing", 30, 4, 0, 0.0, 0.0),
         ("close-pair", 40, 4, 0, 0.0, 0.0), ("random", 50, 5, 2, 0.5, 0.0), ("conditioned", 30, 5, 3, 0.0, 0.0),
         ("random", 10, 4, 42000, 0.0, 1.0), ("cluster", 10, 4, 42002, 0.0, 1.0),
         ("close-pair", 20, 6, 42001, 0.0, 1.0), ("random", 20, 4, 42000, 0.1, 1.0)]
for family, d, k, seed, noise, biases in CASES:
    truth = planted.make(family, d, k, random_state=seed, biases=biases)
    n = 500 * d * k if biases else 1000 * d * k
    X, y = planted.sample(truth, n, noise=noise, random_state=seed + 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = learn(X, y, k, random_state=seed)
    h = hashlib.sha256()
    for a in (net.weights, net.directions, net.biases, net.linear, np.array([net.intercept])):
        if a is not None:
            h.update(np.ascontiguousarray(a).tobytes())
    said = [str(w.message)[:50] for w in caught]
    print(family, d, k, seed, noise, biases, h.hexdigest()[:16], net.report.passes, said)
