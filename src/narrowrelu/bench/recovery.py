"""Recovery on the zoo: every case x seed x method on the same sampled data, exact errors.

Run ``python -m narrowrelu.bench.recovery [--suite quick|readme] [--methods auto ...] [--out DIR]``.
It prints a Markdown table and writes ``recovery.json`` (one record per run: family, d, k,
n, n/(d k), seed, method, relative error, recovered, seconds, passes) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

from .. import planted
from ..learn import learn
from ..metrics import relative_error

#: (family, d, k, n, knobs)
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
}


def run(suite: str, methods: list[str], seeds: int, out: Path | None) -> list[dict]:
    records = []
    for family, d, k, n, knobs in SUITES[suite]:
        for seed in range(seeds):
            truth = planted.make(family, d, k, random_state=seed, **knobs)
            X, y = planted.sample(truth, n, random_state=1000 + seed)
            for method in methods:
                start = time.perf_counter()
                try:
                    net = learn(X, y, k, method=method, random_state=seed)
                    error, passes, note = relative_error(net, truth), net.report.passes, ""
                except ValueError as exc:  # e.g. a refused eta-net
                    error, passes, note = float("nan"), 0, str(exc).split(";")[0]
                records.append({
                    "family": family, "d": d, "k": k, "n": n, "n_per_dk": n / (d * k), "seed": seed,
                    "method": method, "relative_error": error, "recovered": bool(error <= 1e-4),
                    "seconds": round(time.perf_counter() - start, 2), "passes": passes, "note": note,
                })
                print(json.dumps(records[-1]), flush=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        meta = {"machine": platform.machine(), "python": platform.python_version(),
                "date": time.strftime("%Y-%m-%d"), "commit": _commit()}
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
        groups.setdefault((r["family"], r["d"], r["k"], r["n"], r["method"]), []).append(r)
    lines = ["| family | d | k | n (× dk) | method | recovered | worst rel. error | mean seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for (family, d, k, n, method), rs in groups.items():
        worst = max(r["relative_error"] for r in rs)
        lines.append(f"| {family} | {d} | {k} | {n:,} ({n // (d * k)}) | {method} | "
                     f"{sum(r['recovered'] for r in rs)}/{len(rs)} | {worst:.1e} | "
                     f"{sum(r['seconds'] for r in rs) / len(rs):.1f} |")
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
