"""The ``efficiency`` suite: statistical efficiency beyond the rows kept in memory.

``narrowrelu bench --suite efficiency --out DIR [--seeds N]`` draws one noisy instance per seed
(``CASE``: random, d = 50, k = 5, 4 000 000 rows, noise 0.5 std f; seed 0 alone by default), writes
it once as a ``.npy`` pair under ``DATA`` (float64, written block by block, reused when present), and fits it
streamed from the files with ``learn`` twice: with the streamed polish (``streamed_passes`` at its default,
:mod:`narrowrelu.streamed`) and without it (``streamed_passes=0``: the fit on the kept rows
only). Each is scored by its exact excess risk (:func:`~narrowrelu.metrics.population_mse`
against the truth) over that of the oracle: the refinement started at the truth on every
training row (:func:`~narrowrelu.bench.harness.oracle_excess_risk`, which streams the same
files). ``DIR/results.json`` holds one record per fit (resumable) and ``DIR/results.md`` the
table; ``--option NAME=VALUE`` goes to both fits (``memory``, say).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .. import planted
from .._learn import learn
from .._validation import check_memory
from ..metrics import population_mse, variance
from ..network import ReLUNetwork
from ..options import AutoOptions
from ..pipeline import Memory

#: Where the instance's ``.npy`` pair is written (reused by later runs when its header matches).
DATA = Path("/tmp/narrowrelu-efficiency")
#: Rows drawn and written at a time.
WRITE_ROWS = 200_000


@dataclass(frozen=True)
class Case:
    family: str = "random"
    d: int = 50
    k: int = 5
    n: int = 4_000_000
    noise: float = 0.5
    seed: int = 0


CASE = Case()


def write_pair(truth: ReLUNetwork, case: Case, folder: Path) -> Path:
    """``X.npy``, ``y.npy`` of ``case.n`` rows x ~ N(0, I), y = f(x) + noise std(f) xi, drawn block
    by block from ``default_rng(1000 + seed)``; kept when the files already have that shape."""
    folder.mkdir(parents=True, exist_ok=True)
    files = folder / "X.npy", folder / "y.npy"
    stamp = folder / "case.json"
    if stamp.exists() and json.loads(stamp.read_text()) == asdict(case) and all(f.exists() for f in files):
        return folder
    X = np.lib.format.open_memmap(files[0], mode="w+", dtype=np.float64, shape=(case.n, case.d))
    y = np.lib.format.open_memmap(files[1], mode="w+", dtype=np.float64, shape=(case.n,))
    rng, scale = np.random.default_rng(1000 + case.seed), case.noise * np.sqrt(variance(truth))
    for start in range(0, case.n, WRITE_ROWS):
        stop = min(start + WRITE_ROWS, case.n)
        X[start:stop] = rng.standard_normal((stop - start, case.d))
        y[start:stop] = truth.predict(X[start:stop]) + scale * rng.standard_normal(stop - start)
    X.flush(), y.flush()
    del X, y
    stamp.write_text(json.dumps(asdict(case)))
    return folder


def run(out: Path, meta: dict, progress=None, case: Case = CASE, options: dict | None = None,
        data: Path = DATA, seeds: int | None = None) -> dict:
    """Run (or continue) the suite on seeds ``0 .. seeds - 1`` (default: ``case.seed`` alone); write
    ``results.json`` and ``results.md`` under ``out``. Each seed's pair replaces the previous one in ``data``."""
    from .harness import oracle_excess_risk

    out.mkdir(parents=True, exist_ok=True)
    file = out / "results.json"
    results = json.loads(file.read_text()) if file.exists() else {"meta": meta, "records": []}
    done = {(r["seed"], r["method"]) for r in results["records"]}
    options = dict(options or {})
    default = AutoOptions().streamed_passes
    methods = [("oracle (all training rows)", None), (f"auto, streamed_passes={default}", default),
               ("auto, streamed_passes=0 (kept rows only)", 0)]
    cases = [case] if seeds is None else [replace(case, seed=seed) for seed in range(seeds)]
    plan = [(c, method, passes) for c in cases for method, passes in methods]
    for count, (c, method, passes) in enumerate(plan, 1):
        if (c.seed, method) not in done:
            truth = planted.make(c.family, c.d, c.k, random_state=c.seed)
            folder = write_pair(truth, c, data)
            start = time.perf_counter()
            if passes is None:
                X, y = (np.load(folder / f"{part}.npy", mmap_mode="r") for part in ("X", "y"))
                memory = options.get("memory")
                budget = None if memory is None else Memory(check_memory(memory))
                record = {"excess_risk": oracle_excess_risk(X, y, truth, memory=budget)}
            else:
                net = learn(folder, k=c.k, random_state=c.seed, **(options | {"streamed_passes": passes}))
                stage = next((s for s in net.report.stages if s["stage"] == "streamed polish"), {})
                record = {"excess_risk": population_mse(net, truth), "passes": net.report.passes,
                          "streamed_passes": stage.get("passes", 0), "streamed_steps": stage.get("steps", 0),
                          "streamed_seconds": stage.get("seconds", 0.0), "n_train": net.report.n_train,
                          "kept_in_memory": net.report.stages[0]["kept_in_memory"],
                          "validation_mse": net.report.validation_mse}
            record |= {"method": method, "seconds": round(time.perf_counter() - start, 1)}
            results["records"].append(asdict(c) | record)
            file.write_text(json.dumps(results, indent=1, default=float))
        if progress:
            progress(count, len(plan), f"seed {c.seed}: {method}")
    oracles = {r["seed"]: r["excess_risk"] for r in results["records"] if r["method"] == methods[0][0]}
    for r in results["records"]:
        r["ratio_to_oracle"] = r["excess_risk"] / oracles[r["seed"]]
    results["meta"]["finished"] = time.strftime("%Y-%m-%d %H:%M")
    file.write_text(json.dumps(results, indent=1, default=float))
    lines = [f"# efficiency: {case.family} d={case.d} k={case.k}, {case.n} rows, noise {case.noise}", "",
             f"`{results['meta'].get('command', '')}` at {results['meta'].get('commit', '')}", "",
             "| seed | fit | excess risk | × oracle | passes | streamed passes (steps kept) | seconds |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(results["records"], key=lambda r: r["seed"]):
        streamed = f"{r['streamed_passes']} ({r['streamed_steps']})" if "streamed_passes" in r else "–"
        lines.append(f"| {r['seed']} | {r['method']} | {r['excess_risk']:.3e} | {r['ratio_to_oracle']:.3f} | "
                     f"{r.get('passes', '–')} | {streamed} | {r['seconds']} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    return results
