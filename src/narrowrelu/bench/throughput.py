"""Throughput of the moment pass against the machine's own ``X.T @ X``, and residualisation gain.

Run ``python -m narrowrelu.bench.throughput [--n N] [--d D] [--directions P]``. It prints a
JSON record: the best time of a plain ``X.T @ X`` (numpy's own threading, and row chunks with
one BLAS thread each, whichever is faster), the time of one moment pass producing
``1 + P`` weighted Gram matrices (T2 and P degree-4 contractions, P = 4, 8 and 20), the ratio
``time(X.T @ X) / (time(pass) / (1 + P))``, the BLAS setting, and the variance reduction
factor Var(y)/Var(r) of residualisation on the ``random`` family.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from .. import moments, planted
from ..engines import Engine
from ..sources import ArraySource, Writer, open_source
from .memory import PeakRSS


def _best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_gram_time(X: np.ndarray, repeats: int = 3) -> dict:
    """Best of numpy's threaded ``X.T @ X`` and a chunked, one-BLAS-thread-per-chunk version."""
    jobs = moments.default_n_jobs()
    rows = 16384

    def chunked():
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(jobs) as pool:
            return sum(pool.map(lambda s: X[s : s + rows].T @ X[s : s + rows], range(0, len(X), rows)))

    return {"numpy_threads": _best_time(lambda: X.T @ X, repeats), "chunked": _best_time(chunked, repeats)}


def variance_reduction(d: int = 50, k: int = 5, n: int = 100_000, seeds: int = 5) -> list[float]:
    """Var(y) / Var(r) for r the residual of the degree <= 2 fit, on the ``random`` family."""
    ratios = []
    for seed in range(seeds):
        X, y = planted.sample(planted.make("random", d, k, random_state=seed), n, random_state=seed)
        r = y - moments.low_degree(X, y).quadratic_model().predict(X)
        ratios.append(float(y.var() / r.var()))
    return ratios


def pass_time(X: np.ndarray, y: np.ndarray, n_directions: int, repeats: int, rng) -> float:
    """Best time of one moment pass with ``n_directions`` degree-4 contractions (plus T2)."""
    G = rng.standard_normal((n_directions, X.shape[1]))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    spec = moments.MomentSpec(d=X.shape[1], degrees=(4,), directions=G)
    source = ArraySource(X, y)  # opened (and checked) once, as learn does
    return _best_time(lambda: Engine().run(source, spec), repeats)


def run(n: int = 1_000_000, d: int = 200, directions=(4, 8, 20), repeats: int = 3, seed: int = 0) -> dict:
    """Ratios ``time(X.T @ X) / (time(pass) / (1 + p))`` for each ``p`` in ``directions``.

    ``p = 20`` is what ``learn(method="auto")`` puts in one discovery pass (``contractions_inside``
    plus ``contractions_outside``).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    before = plain_gram_time(X, repeats)
    passes = {p: pass_time(X, y, p, repeats, rng) for p in directions}
    # The baseline is timed before and after the passes and its best kept: the machine's best rate.
    plain = {kind: min(t, before[kind]) for kind, t in plain_gram_time(X, repeats).items()}
    return {
        "n": n,
        "d": d,
        "plain_gram_seconds": plain,
        "pass_seconds": passes,
        "ratio_to_plain_gram": {p: min(plain.values()) / (t / (1 + p)) for p, t in passes.items()},
        "variance_reduction_random_family": variance_reduction(),
        "machine": platform.processor() or platform.machine(),
        "cores": moments.default_n_jobs(),
        "blas": [{k: v for k, v in info.items() if k in ("internal_api", "version", "num_threads")}
                 for info in threadpool_info()],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def memory_record(folder: Path, d: int = 100, sizes=(200_000, 800_000, 3_200_000), chunk_rows: int = 20_000) -> list:
    """Peak RSS of one moment pass streamed from ``.npy`` pairs of growing size (fixed chunk)."""
    records = []
    G = np.random.default_rng(0).standard_normal((8, d))
    spec = moments.MomentSpec(d=d, degrees=(4,), directions=G / np.linalg.norm(G, axis=1, keepdims=True))
    for rows in sizes:
        path = folder / f"stream-{rows}"
        if not path.exists():
            rng = np.random.default_rng(rows)
            with Writer(path, rows, d) as out:
                for start in range(0, rows, 100_000):
                    m = min(100_000, rows - start)
                    out.append(rng.standard_normal((m, d)), rng.standard_normal(m))
        source = open_source(path)
        start = time.perf_counter()
        with PeakRSS() as memory:
            Engine(chunk_rows=chunk_rows).run(source, spec)
        seconds = time.perf_counter() - start
        records.append({"rows": rows, "d": d, "file_mb": rows * (d + 1) * 8 / 2**20, "chunk_rows": chunk_rows,
                        "peak_added_mb": memory.added_mb, "seconds": seconds, "rows_per_second": rows / seconds})
        shutil.rmtree(path)
    return records


def throughput_record(out: Path) -> dict:
    """The harness's ``throughput`` suite: :func:`run` plus :func:`memory_record`."""
    record = run() | {"method": "throughput", "tag": "throughput", "memory": memory_record(Path(out))}
    return record


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--directions", type=int, nargs="+", default=[4, 8, 20])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.n, args.d, args.directions, args.repeats), indent=2))


if __name__ == "__main__":
    main()
