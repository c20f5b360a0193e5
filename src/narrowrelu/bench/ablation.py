"""The ablation table: the generalization suite with one mechanism of ``auto`` switched off per run.

Run every ablation as its own suite, ``narrowrelu bench --suite generalization --seeds S --out DIR
--option NAME=VALUE``, beside one run with every mechanism on, then
``python -m narrowrelu.bench.ablation ALL_ON_DIR DIR ... --out ablation.md``. Each row compares a run
with the all-on run instance by instance (same seeds, same rows; a run not finished is compared on the
instances it has, the all-on figures on those instances beside it): the instances it loses (succeed
with every mechanism, fail without this one), those it gains, and its total seconds against the
all-on run's, and the data passes it took (a pass reads every row: what a mechanism saves on large
files). Success is :func:`~narrowrelu.bench.generalization.success` (exact relative error
<= 1e-4 noiseless, excess risk <= 1.2 x the oracle's noisy).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .generalization import confidence_interval, success


def _load(directory: str) -> tuple[dict, dict[tuple, dict]]:
    results = json.loads((Path(directory) / "results.json").read_text())
    return results["meta"], {(r["family"], r["seed"]): r for r in results["records"] if r["method"] == "auto"}


def _names(keys) -> str:
    return ", ".join(f"{family} {seed}" for family, seed in sorted(keys)) or "–"


def table(all_on: str, ablations: list[str]) -> list[str]:
    """Markdown lines: one row per ablation directory, compared with the all-on directory."""
    meta, base = _load(all_on)
    base_seconds = sum(r["seconds"] for r in base.values())
    lines = [f"All-on run: `{meta['command']}` at commit `{meta['commit']}` ({len(base)} instances, "
             f"{sum(map(success, base.values()))} succeed, {sum(r['passes'] for r in base.values())} data passes, "
             f"{base_seconds / 60:.1f} min).",
             "", "| switched off | success | 95% CI | lost (fail only without it) | gained | data passes | minutes "
             "| × all-on time |", "|---|---|---|---|---|---|---|---|"]
    for directory in ablations:
        meta, runs = _load(directory)
        common = [key for key in base if key in runs]
        if not common:
            raise ValueError(f"{directory} shares no instance with the all-on run {all_on}")
        lost = {key for key in common if success(base[key]) and not success(runs[key])}
        gained = {key for key in common if success(runs[key]) and not success(base[key])}
        wins = sum(success(runs[key]) for key in common)
        low, high = confidence_interval(wins, len(common))
        seconds, passes = sum(runs[key]["seconds"] for key in common), sum(runs[key]["passes"] for key in common)
        reference = sum(base[key]["seconds"] for key in common)
        base_wins, base_passes = sum(success(base[key]) for key in common), sum(base[key]["passes"] for key in common)
        option = ", ".join(f"{name}={value}" for name, value in meta["options"].items()) or "(none)"
        lines.append(f"| `{option}` | {wins}/{len(common)} (all on: {base_wins}) | [{low:.1%}, {high:.1%}] | "
                     f"{_names(lost)} | {_names(gained)} | {passes} (all on: {base_passes}) | {seconds / 60:.1f} | "
                     f"{seconds / reference:.2f} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("all_on")
    parser.add_argument("ablations", nargs="+")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    Path(args.out).write_text("\n".join(table(args.all_on, args.ablations)) + "\n")


if __name__ == "__main__":
    main()
