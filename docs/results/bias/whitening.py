"""Whitening (``standardize=True``) on fresh instances: inputs x = mu + A z (z ~ N(0, I), A symmetric
positive definite), labels from a planted teacher of z; ``learn`` sees only (x, y).

Usage: ``python docs/results/bias/whitening.py OUT.jsonl SEED0 SEEDS``; one JSON line per run. The fit, a
network of x, is mapped back through the true (mu, A) (``narrowrelu.standardize.to_standard`` with the
whitening ``A^-1``) and scored with the exact relative population error against the teacher (hidden biases
included). Shapes ``SHAPES`` (default ``10x4,20x6``), families ``FAMILIES`` (default ``random,close-pair,
cluster``), rows ``ROWS_PER_DK`` d k (default 1000), teachers bias-free and with b ~ N(0, 1); A has
eigenvalues log-uniform in [0.3, 3] (condition number up to 100), mu ~ N(0, 4 I).
"""

import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

from narrowrelu import learn, planted, relative_error
from narrowrelu.standardize import to_standard

ROWS_PER_DK = int(os.environ.get("ROWS_PER_DK", "1000"))
SHAPES = tuple(tuple(int(v) for v in s.split("x")) for s in os.environ.get("SHAPES", "10x4,20x6").split(","))
FAMILIES = tuple(os.environ.get("FAMILIES", "random,close-pair,cluster").split(","))


def affine(d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric positive definite A (eigenvalues log-uniform in [0.3, 3]) and a mean mu ~ N(0, 4 I)."""
    rng = np.random.default_rng(seed + 500)
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    A = (Q * np.exp(rng.uniform(np.log(0.3), np.log(3.0), d))) @ Q.T
    return (A + A.T) / 2, 2.0 * rng.standard_normal(d)


def main(out: str, seed0: int, seeds: int) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with open(out, "a") as file:
        for seed in range(seed0, seed0 + seeds):
            for d, k in SHAPES:
                for family in FAMILIES:
                    for biases in (0.0, 1.0):
                        truth = planted.make(family, d=d, k=k, random_state=seed, biases=biases)
                        Z, y = planted.sample(truth, ROWS_PER_DK * d * k, random_state=seed + 1)
                        A, mu = affine(d, seed)
                        start = time.perf_counter()
                        with warnings.catch_warnings(record=True) as caught:
                            warnings.simplefilter("always")
                            net = learn(Z @ A + mu, y, k=k, random_state=seed, standardize=True)
                        back = to_standard(net, mu, np.linalg.inv(A))
                        condition = float(np.linalg.cond(A @ A))  # of the inputs' covariance
                        record = {"family": family, "d": d, "k": k, "n": len(y), "biases": biases, "seed": seed,
                                  "commit": commit, "seconds": round(time.perf_counter() - start, 2),
                                  "relative_error": relative_error(back, truth), "condition": condition,
                                  "warnings": [str(w.message)[:80] for w in caught]}
                        file.write(json.dumps(record) + "\n")
                        file.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
