"""High dimension in Gram passes: ``auto`` at d = 1000 (and 400), and the public contraction kernel.

Run ``python -m narrowrelu.bench.highdim fit [--d 1000] [--n 120000] [--k 4] [--seed 0]`` or
``python -m narrowrelu.bench.highdim kernel [--d 100] [--n 100000]``. The unit of cost is one pass of
``X.T @ X`` over the same rows (one BLAS thread, best of three; docs/evaluation.md), measured in
the same run (before and after the fit: the best of the six). ``fit`` runs ``learn(X, y, k)`` with
its defaults on ``planted.make("random", d, k)`` (noiseless) and prints its wall time in Gram
passes, the exact relative error, the report's moment passes, the seconds per stage and the time
outside every stage (``--options``: options of ``learn`` as JSON). ``kernel`` times
``narrowrelu.moments.contraction`` (degrees 2 and 4, best of three) against ``X.T @ X``.
The imports are absolute, so that running this file with another checkout first on
``PYTHONPATH`` measures that checkout (the before/after of docs/results/highdim).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from narrowrelu import learn, moments, planted
from narrowrelu.metrics import relative_error


def gram_seconds(X: np.ndarray, repeats: int = 3) -> float:
    """Seconds of one ``X.T @ X`` with one BLAS thread, best of ``repeats``."""
    return best_seconds(lambda: X.T @ X, repeats)


def best_seconds(work, repeats: int = 3) -> float:
    """Best of ``repeats`` wall times of ``work()`` with BLAS on one thread."""
    from threadpoolctl import threadpool_limits

    best = np.inf
    with threadpool_limits(1, user_api="blas"):
        for _ in range(repeats):
            start = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - start)
    return best


def fit(d: int, n: int, k: int, seed: int, options: dict | None = None) -> dict:
    """One ``learn`` (defaults, or ``options`` given to it as keywords) on ``random`` (d, k), n noiseless
    rows, in Gram passes."""
    truth = planted.make("random", d, k, random_state=seed)
    X, y = planted.sample(truth, n, random_state=seed + 1)
    gram = gram_seconds(X)
    start = time.perf_counter()
    net = learn(X, y, k=k, random_state=seed, **(options or {}))
    wall = time.perf_counter() - start
    gram = min(gram, gram_seconds(X))  # on a shared machine: the best of three before and three after
    stages: dict[str, float] = {}
    for record in net.report.stages:
        if record["stage"] != "total":
            stages[record["stage"]] = round(stages.get(record["stage"], 0.0) + record["seconds"], 3)
    contractions = [r["contractions"] for r in net.report.stages if r["stage"] == "moments"]
    return {"d": d, "n": n, "k": k, "seed": seed, "options": options or {}, "gram_seconds": round(gram, 4),
            "seconds": round(wall, 2),
            "gram_passes": round(wall / gram, 1), "relative_error": relative_error(net, truth),
            "moment_passes": net.report.passes, "contractions_per_pass": contractions, "stage_seconds": stages,
            "outside_stages_seconds": round(wall - sum(stages.values()), 2),
            "stage_gram_passes": {s: round(v / gram, 1) for s, v in stages.items()}}


def kernel(d: int, n: int, seed: int) -> dict:
    """``moments.contraction`` at degrees 2 and 4 against one ``X.T @ X`` on the same rows."""
    rng = np.random.default_rng(seed)
    truth = planted.make("random", d, 5, random_state=seed)
    X, y = planted.sample(truth, n, random_state=seed + 1)
    g = rng.standard_normal(d)
    g /= np.linalg.norm(g)
    gram = gram_seconds(X)
    result = {"d": d, "n": n, "gram_seconds": round(gram, 4)}
    for degree in (2, 4):
        seconds = best_seconds(lambda: moments.contraction(X, y, g, degree))  # noqa: B023 - called at once
        result[f"degree{degree}"] = {"seconds": round(seconds, 4), "ratio_to_gram": round(gram / seconds, 3)}
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m narrowrelu.bench.highdim", description=__doc__.split("\n")[0])
    parser.add_argument("case", choices=["fit", "kernel"])
    parser.add_argument("--d", type=int, default=None, help="features (fit: 1000, kernel: 100)")
    parser.add_argument("--n", type=int, default=None, help="rows (fit: 120000, kernel: 100000)")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--options", type=json.loads, default=None,
                        help='fit: options of learn as JSON, e.g. \'{"restarts": 1}\' (default: none)')
    args = parser.parse_args(argv)
    if args.case == "fit":
        result = fit(args.d or 1000, args.n or 120_000, args.k, args.seed, args.options)
    else:
        result = kernel(args.d or 100, args.n or 100_000, args.seed)
    result["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    result["narrowrelu"] = moments.__file__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
