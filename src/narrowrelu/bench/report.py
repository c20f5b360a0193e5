"""Tables (``results.md``) and figures (PNG) from a harness ``results.json``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np


def _groups(records: list[dict], tag: str) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("tag") == tag:
            groups[(r["family"], r["d"], r["k"], r["n"], r["noise"], r["method"])].append(r)
    return groups


def _median(values) -> float:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.median(values)) if values else float("nan")


def summary(records: list[dict], tag: str) -> list[dict]:
    """One row per (case, method): recovered count, median error, median seconds, peak memory."""
    rows = []
    for (family, d, k, n, noise, method), rs in _groups(records, tag).items():
        rows.append({"family": family, "d": d, "k": k, "n": n, "noise": noise, "method": method, "runs": len(rs),
                     "recovered": sum(r["recovered"] for r in rs),
                     "median_error": _median(r["relative_error"] for r in rs),
                     "worst_ratio_to_oracle": max((r.get("ratio_to_oracle", np.nan) for r in rs), default=np.nan),
                     "median_seconds": _median(r["seconds"] for r in rs),
                     "peak_mb": max((r.get("peak_memory_mb") or 0.0 for r in rs), default=0.0),
                     "monte_carlo": any(r.get("error_kind") == "monte-carlo" for r in rs),
                     "notes": sorted({r["note"] for r in rs if r.get("note")})})
    return rows


def _table(rows: list[dict]) -> list[str]:
    lines = ["| family | d | k | n (× dk) | noise | method | recovered | median rel. error | excess / oracle "
             "| median s | peak MiB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        error = f"{r['median_error']:.1e}" + (" (MC)" if r["monte_carlo"] else "")
        ratio = f"{r['worst_ratio_to_oracle']:.2f}" if r["noise"] and np.isfinite(r["worst_ratio_to_oracle"]) else "–"
        note = f" ({'; '.join(r['notes'])[:60]})" if r["notes"] else ""
        lines.append(f"| {r['family']} | {r['d']} | {r['k']} | {r['n']:,} ({r['n'] // (r['d'] * r['k'])}) | "
                     f"{r['noise']} | {r['method']}{note} | {r['recovered']}/{r['runs']} | {error} | {ratio} | "
                     f"{r['median_seconds']:.1f} | {r['peak_mb']:.0f} |")
    return lines


def pivot(records: list[dict], tag: str = "zoo") -> list[str]:
    """Compact table: one row per case, one column per method, cells "recovered/runs (median s)"."""
    rows = summary(records, tag)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cases = list(dict.fromkeys((r["family"], r["d"], r["k"], r["n"], r["noise"]) for r in rows))
    cell = {(r["family"], r["d"], r["k"], r["n"], r["noise"], r["method"]): r for r in rows}
    lines = ["| case | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for case in cases:
        family, d, k, n, noise = case
        cells = []
        for m in methods:
            r = cell.get((*case, m))
            if r is None:
                cells.append("")
            elif noise:
                cells.append(f"×{r['worst_ratio_to_oracle']:.2f} oracle ({r['median_seconds']:.1f} s)")
            else:
                cells.append(f"{r['recovered']}/{r['runs']} ({r['median_seconds']:.1f} s)")
        label = f"{family} d={d} k={k} n={n:,}" + (f" σ={noise}" if noise else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def write_markdown(results: dict, path: Path) -> None:
    meta, records = results["meta"], results["records"]
    lines = [f"# narrowrelu benchmark: suite `{meta['suite']}`", "",
             f"Run `{meta['command']}` on {meta['date']} (finished {meta.get('finished', '?')}), commit "
             f"`{meta['commit']}`, {meta['machine']} {meta['processor']}, {meta['cores']} cores, Python "
             f"{meta['python']}. Recovered: exact relative error ≤ 1e-4; (MC): Monte Carlo estimate (10⁶ fresh "
             "inputs) for predictors outside the network form (MLPRegressor has hidden biases).", ""]
    if summary(records, "zoo"):
        lines += ["## Overview: recovered / runs (median seconds); noisy rows: worst excess risk / oracle's", "",
                  *pivot(records), ""]
    for tag, title in (("zoo", "The zoo"), ("width", "Success against width"), ("dimension", "Time against d"),
                       ("samples", "Error against n"), ("safran", "Orthonormal k = d from samples")):
        rows = summary(records, tag)
        if rows:
            lines += [f"## {title}", "", *_table(rows), ""]
    safran = [r for r in records if r.get("tag") == "safran-population"]
    if safran:
        lines += ["## Safran–Shamir: population gradient descent, % of runs in a spurious minimum", "",
                  "| k = d | reference % (1000 runs) | ours % ± s.e. | runs | z vs reference | converged |",
                  "|---|---|---|---|---|---|"]
        for r in sorted(safran, key=lambda r: r["k"]):
            z = "–" if r["z_vs_reference"] is None else f"{r['z_vs_reference']:+.1f}"
            lines.append(f"| {r['k']} | {r['reference_percent']} | {r['spurious_percent']:.1f} ± "
                         f"{r['standard_error_percent']:.1f} | {r['runs']} | {z} | {r['converged']}/{r['runs']} |")
        lines.append("")
    if any(r.get("tag") == "generalization" for r in records):
        lines += generalization_section(records)
    for r in records:
        if r.get("method") == "throughput":
            lines += ["## Throughput and memory", "", "```", _throughput_text(r), "```", ""]
    path.write_text("\n".join(lines))


def _knobs_text(knobs: dict) -> str:
    def show(value):
        if isinstance(value, float):
            return f"{value:.3g}"
        if isinstance(value, list | tuple):
            return "(" + ", ".join(show(v) for v in value) + ")"
        return str(value)

    return ", ".join(f"{name}={show(value)}" for name, value in knobs.items())


def generalization_rows(records: list[dict]) -> list[dict]:
    """One row per (structure, method) of the generalization suite, then one per method over all noiseless
    structures: successes, trials, the Clopper-Pearson 95% interval, errors, seconds."""
    from .generalization import confidence_interval, success

    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("tag") == "generalization":
            groups[(r["family"], r["method"])].append(r)
            if not r["noise"]:
                groups[("all noiseless", r["method"])].append(r)
    rows = []
    for (structure, method), rs in groups.items():
        wins = sum(success(r) for r in rs)
        noisy = all(r["noise"] for r in rs)
        score = [r.get("ratio_to_oracle", np.nan) if noisy else r["relative_error"] for r in rs]
        score = [np.inf if v is None or not np.isfinite(v) else v for v in score]
        rows.append({"structure": structure, "method": method, "noisy": noisy, "trials": len(rs), "successes": wins,
                     "ci": confidence_interval(wins, len(rs)), "median": float(np.median(score)),
                     "worst": float(np.max(score)), "median_seconds": _median(r["seconds"] for r in rs),
                     "max_seconds": max(r["seconds"] for r in rs),
                     "d": (min(r["d"] for r in rs), max(r["d"] for r in rs)),
                     "k": (min(r["k"] for r in rs), max(r["k"] for r in rs))})
    return sorted(rows, key=lambda row: row["structure"] == "all noiseless")


def generalization_section(records: list[dict]) -> list[str]:
    """The success table with binomial confidence intervals and every failure with its knobs."""
    from .generalization import NOISY_SUCCESS, success

    lines = ["## Generalization: fresh seeds, knobs drawn at random (never tuned on)", "",
             f"Success: exact relative error ≤ 1e-4 (noiseless) or excess risk ≤ {NOISY_SUCCESS} × the oracle's "
             "(noisy; the oracle is the refinement started at the truth on the same rows). 95% interval: "
             "Clopper–Pearson (exact binomial).", "",
             "| structure | method | success | rate | 95% CI | d | k | median score | worst score | median s | max s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in generalization_rows(records):
        low, high = r["ci"]
        kind = "× oracle" if r["noisy"] else "rel. error"
        lines.append(f"| {r['structure']} | {r['method']} | {r['successes']}/{r['trials']} | "
                     f"{r['successes'] / r['trials']:.1%} | [{low:.1%}, {high:.1%}] | {r['d'][0]}–{r['d'][1]} | "
                     f"{r['k'][0]}–{r['k'][1]} | {r['median']:.2g} {kind} | {r['worst']:.2g} {kind} | "
                     f"{r['median_seconds']:.1f} | {r['max_seconds']:.1f} |")
    failures = [r for r in records if r.get("tag") == "generalization" and not success(r)]
    lines += ["", f"### Failures ({len(failures)})", ""]
    if failures:
        lines += ["| structure | seed | method | d | k | n | noise | rel. error | × oracle | knobs |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in failures:
            ratio = r.get("ratio_to_oracle")
            lines.append(f"| {r['family']} | {r['seed']} | {r['method']}{' (' + r['note'] + ')' if r['note'] else ''} "
                         f"| {r['d']} | {r['k']} | {r['n']:,} | {r['noise']} | {r['relative_error']:.2e} | "
                         f"{'–' if ratio is None else f'{ratio:.2f}'} | {_knobs_text(r['knobs'])} |")
    else:
        lines.append("None.")
    return [*lines, ""]


def _throughput_text(r: dict) -> str:
    plain = min(r["plain_gram_seconds"].values())
    lines = [f"moment pass, N = {r['n']:,}, d = {r['d']}: best plain X.T @ X {plain:.3f} s"]
    for p, ratio in r["ratio_to_plain_gram"].items():
        lines.append(f"  {p} contractions per pass: {r['pass_seconds'][p]:.3f} s, ratio to X.T @ X {ratio:.2f}")
    for m in r.get("memory", []):
        lines.append(f"  streamed {m['rows']:,} rows ({m['file_mb']:.0f} MiB .npy pair, "
                     f"chunk {m['chunk_rows']:,} rows): peak RSS added {m['peak_added_mb']:.0f} MiB, "
                     f"{m['rows_per_second']:,.0f} rows/s")
    return "\n".join(lines)


def write_plots(results: dict, out: Path) -> list[Path]:
    """success_vs_k.png, time_vs_d.png, error_vs_n.png, safran.png (those with data); needs matplotlib."""
    try:
        from ..plots import curves_figure, safran_figure, save
    except ImportError:  # pragma: no cover - plots are optional
        return []
    records, written = results["records"], []
    for tag, name, x, y, ylabel, log in (
        ("width", "success_vs_k.png", "k", "recovered_rate", "share of seeds recovered", False),
        ("dimension", "time_vs_d.png", "d", "median_seconds", "median seconds", True),
        ("samples", "error_vs_n.png", "n_per_dk", "median_error", "median exact relative error", True),
    ):
        rows = summary(records, tag)
        if not rows:
            continue
        for r in rows:
            r["recovered_rate"], r["n_per_dk"] = r["recovered"] / r["runs"], r["n"] / (r["d"] * r["k"])
        title = f"{results['meta']['suite']}: {name[:-4]}"
        written.append(save(curves_figure(rows, x, y, ylabel, log, title=title), out / name))
    safran = [r for r in records if r.get("tag") == "safran-population"]
    if safran:
        written.append(save(safran_figure(safran, summary(records, "safran")), out / "safran.png"))
    return written
