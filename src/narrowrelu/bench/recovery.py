"""Recovery on the zoo: every case x seed x method on the same sampled data, exact errors.

Run ``python -m narrowrelu.bench.recovery [--suite quick|readme|noisy] [--methods auto ...] [--out DIR]``.
It prints a Markdown table and writes ``recovery.json`` (one record per run: family, d, k,
n, n/(d k), noise, seed, method, relative error, recovered, seconds, passes) under ``--out``.
On noisy data each record also has the oracle's excess risk (the same refinement started at
the true network on the same training rows) and the ratio ours / oracle.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from .. import planted
from ..engines import RowPlan
from ..learn import learn
from ..methods.auto import DEFAULTS as AUTO
from ..metrics import population_mse, relative_error, variance
from ..pipeline import MAX_KEPT_ROWS, MAX_VALIDATION_ROWS
from ..polish import refine, to_network

#: (family, d, k, n, knobs) or (family, d, k, n, knobs, noise)
SUITES = {
    "quick": [
        ("random", 20, 4, 40_000, {}),
        ("close-pair", 20, 4, 40_000, {}),
    ],
    "readme": [
        ("random", 50, 5, 100_000, {}),
        ("random", 100, 5, 200_000, {}),
        ("random", 50, 8, 150_000, {}),
        ("orthonormal", 20, 20, 200_000, {}),
        ("orthonormal", 50, 8, 100_000, {}),
        ("conditioned", 50, 8, 150_000, {}),
        ("close-pair", 50, 5, 150_000, {}),
        ("cluster", 50, 6, 150_000, {}),
        ("vanishing", 30, 4, 100_000, {}),
        ("vanishing", 30, 8, 200_000, {}),
    ],
    "noisy": [
        ("random", 20, 4, 100_000, {}, 0.1),
        ("random", 20, 4, 100_000, {}, 0.5),
        ("close-pair", 20, 4, 100_000, {"theta": 0.05, "L": 5.0}, 0.1),
        ("orthonormal", 10, 10, 100_000, {}, 0.1),
    ],
}


def oracle_excess_risk(X, y, truth, validation_fraction: float = 0.2) -> float:
    """Excess risk of the refinement started at ``truth`` on the rows ``learn`` keeps for fitting."""
    plan = RowPlan.for_rows(len(y), validation_fraction, MAX_VALIDATION_ROWS, MAX_KEPT_ROWS)
    rows = plan.kept(0, len(y))
    with threadpool_limits(1, user_api="blas"):
        U, fit = refine(X[rows], y[rows], truth.directions, None, max_iter=AUTO["polish_iter"])
    return population_mse(to_network(U, fit, None, truth.d), truth)


def run(suite: str, methods: list[str], seeds: int, out: Path | None) -> list[dict]:
    records = []
    meta = {"machine": platform.machine(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"), "commit": _commit()}
    for family, d, k, n, knobs, *rest in SUITES[suite]:
        noise = rest[0] if rest else 0.0
        for seed in range(seeds):
            truth = planted.make(family, d, k, random_state=seed, **knobs)
            X, y = planted.sample(truth, n, noise=noise, random_state=1000 + seed)
            oracle = oracle_excess_risk(X, y, truth) if noise else None
            for method in methods:
                start = time.perf_counter()
                try:
                    net = learn(X, y, k, method=method, random_state=seed)
                    error, passes, note = relative_error(net, truth), net.report.passes, ""
                except ValueError as exc:  # e.g. a refused eta-net
                    error, passes, note = float("nan"), 0, str(exc).split(";")[0]
                records.append({
                    "family": family, "d": d, "k": k, "n": n, "n_per_dk": n / (d * k), "noise": noise, "seed": seed,
                    "method": method, "relative_error": error, "recovered": bool(error <= 1e-4),
                    "seconds": round(time.perf_counter() - start, 2), "passes": passes, "note": note,
                })
                if oracle is not None:
                    excess = error * variance(truth)
                    records[-1] |= {"excess_risk": excess, "oracle_excess_risk": oracle,
                                    "ratio_to_oracle": excess / oracle}
                print(json.dumps(records[-1]), flush=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "recovery.json").write_text(json.dumps({"meta": meta, "records": records}, indent=1))
    return records


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def markdown(records: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["family"], r["d"], r["k"], r["n"], r["noise"], r["method"]), []).append(r)
    lines = ["| family | d | k | n (× dk) | noise | method | recovered | worst rel. error | worst excess / oracle "
             "| mean seconds |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (family, d, k, n, noise, method), rs in groups.items():
        worst = max(r["relative_error"] for r in rs)
        ratio = f"{max(r['ratio_to_oracle'] for r in rs):.2f}" if noise else "–"
        recovered = f"{sum(r['recovered'] for r in rs)}/{len(rs)}" if not noise else "–"
        lines.append(f"| {family} | {d} | {k} | {n:,} ({n // (d * k)}) | {noise} | {method} | {recovered} | "
                     f"{worst:.1e} | {ratio} | {sum(r['seconds'] for r in rs) / len(rs):.1f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=list(SUITES), default="quick")
    parser.add_argument("--methods", nargs="+", default=["auto"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    print(markdown(run(args.suite, args.methods, args.seeds, args.out)))


if __name__ == "__main__":
    main()
