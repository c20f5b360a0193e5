"""The ``queries`` suite: :func:`~narrowrelu.identify` against the sample-based ``learn`` on the same oracle.

``narrowrelu bench --suite queries --out DIR`` writes ``DIR/results.json`` (``meta`` and one
record per run, resumable) and ``DIR/results.md``. Each case is a random network (our
weights: ``u_i ~ N(0, I)``, ``b_i ~ N(0, 1/4) |u_i|``, ``lambda_i ~ N(0, 1)``) queried as a
numpy callable that counts its queries, in float64 or float32. ``identify`` is exact or it
fails; ``learn`` gets fresh Gaussian rows from the same oracle (:class:`~narrowrelu.sources.FunctionSource`),
``LEARN_ROWS`` rows per d k in growing multiples, until its relative error reaches
``TARGET`` and then ``EXACT``. Figures per record:

- ``worst_angle``: largest angle (rad) between a true unit's ``(u_i, b_i)`` and its match,
  up to positive scale;
- ``worst_parameter``: largest relative error of any parameter (each unit scaled to
  ``|u_i| = 1``: the entries of ``u_i`` and ``b_i`` relative to the unit's largest, and
  ``lambda_i``);
- ``prediction``: largest ``|f_hat - f| / max |f|`` on ``CHECK_ROWS`` fresh Gaussian points;
- ``queries``, ``seconds`` (wall, on a machine possibly shared: see ``meta``);
- from identify's report: ``reported_precision`` (its ``hyperplane_residual``: each unit's last
  relative change in the polish, float32, or the kink points' residual, float64),
  ``rounding_ratio`` (the check's residual over the oracle's rounding) and ``hunted_units``.

Besides the fixed cases, ``draws()`` adds float32 networks of random size: d from
``DRAW_DIMENSIONS``, k = d, 2d, 3d, ``DRAWS_PER_WIDTH`` each, seeds from ``DRAW_SEED``.

A ``trained`` case (:func:`trained_network`, needs torch) is a float32 ``torch.nn.Sequential``
d-k-1 ReLU network trained by Adam on x ~ N(0, I_d) against a random two-hidden-layer ReLU
teacher (not itself a one-hidden-layer network), passed to ``identify`` as the module itself
(queried, by default, through its float64 copy). Its units are compared with the trained
weights: ``live`` units are those whose hyperplane lies within ``GAUSSIAN_SIGMAS`` of the
origin (``dead_true``: farther, on the inactive side; ``always_active_true``: on the active
side); ``worst_parameter`` and ``worst_angle`` are over the live units, ``missing_live`` counts
live units without a match within ``MATCHED`` rad, and ``dead_reported`` is identify's report.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .._identify import GAUSSIAN_SIGMAS, identify
from .._learn import learn
from ..metrics import relative_error
from ..network import ReLUNetwork, angles_between
from ..sources import FunctionSource

#: Relative error counted as learned, and as exact.
TARGET, EXACT = 1e-4, 1e-9
#: Fresh Gaussian points of the prediction check (ours).
CHECK_ROWS = 10_000
#: Rows per d k given to ``learn``, doubled until it reaches EXACT or the cap (ours).
LEARN_ROWS = (50, 200, 800, 3200)
LEARN_MAX_ROWS = 2_000_000


@dataclass(frozen=True)
class QueryCase:
    d: int
    k: int
    biases: bool = True
    dtype: str = "float64"
    seeds: int = 3
    learn: bool = False
    tag: str = ""
    first_seed: int = 0
    trained: bool = False


CASES = [QueryCase(10, 5, learn=True, tag="k < d"), QueryCase(10, 10, biases=False, learn=True, tag="k = d"),
         QueryCase(10, 10, tag="k = d"), QueryCase(10, 30, tag="target: d=10 k=30"),
         QueryCase(10, 5, dtype="float32", tag="float32"), QueryCase(10, 10, dtype="float32", seeds=6, tag="float32"),
         QueryCase(10, 30, dtype="float32", seeds=6, tag="float32"),
         QueryCase(10, 20, dtype="float32", seeds=6, tag="float32"), QueryCase(20, 60, tag="k = 3d"),
         QueryCase(64, 96, seeds=2, tag="target: d=64 k=96"),
         QueryCase(784, 128, seeds=1, tag="Carlini et al.'s 784-128-1"),
         QueryCase(784, 128, seeds=1, trained=True, tag="trained 784-128-1 (Carlini et al.'s headline case)")]


#: float32 draws of random size (ours).
DRAW_SEED, DRAWS_PER_WIDTH, DRAW_DIMENSIONS = 20261204, 10, (4, 6, 8, 10, 12, 16)


def draws() -> list[QueryCase]:
    """float32 cases of random size: for k = d, 2d, 3d, ``DRAWS_PER_WIDTH`` draws of d and a seed."""
    generator, cases = np.random.default_rng(DRAW_SEED), []
    for multiple in (1, 2, 3):
        for _ in range(DRAWS_PER_WIDTH):
            d, seed = int(generator.choice(DRAW_DIMENSIONS)), int(generator.integers(1000, 10**6))
            cases.append(QueryCase(d, multiple * d, dtype="float32", seeds=1, first_seed=seed,
                                   tag=f"float32 draw, k = {multiple}d" if multiple > 1 else "float32 draw, k = d"))
    return cases


CASES += draws()


def network(case: QueryCase, seed: int) -> ReLUNetwork:
    """The case's random network (seeded)."""
    rng = np.random.default_rng([case.d, case.k, seed])
    U = rng.standard_normal((case.k, case.d))
    b = 0.5 * rng.standard_normal(case.k) * np.linalg.norm(U, axis=1) if case.biases else None
    return ReLUNetwork(rng.standard_normal(case.k), U, biases=b)


#: Training of the ``trained`` cases (ours): rows of x ~ N(0, I_d), Adam epochs, batch, learning rate, and the
#: teacher's two hidden widths.
TRAIN_ROWS, TRAIN_EPOCHS, TRAIN_BATCH, TRAIN_LR, TEACHER_WIDTHS = 16_384, 10, 128, 3e-3, (32, 16)
#: A true unit counts as found when a unit of the identified network is within this angle (rad) of it (ours).
MATCHED = 1e-6


def trained_network(case: QueryCase, seed: int, rows: int = TRAIN_ROWS, epochs: int = TRAIN_EPOCHS):
    """A float32 ``torch.nn.Sequential`` d-k-1 ReLU network trained by Adam, and its weights as a ``ReLUNetwork``.

    Inputs x ~ N(0, I_d); targets from a random teacher ``relu(relu(x A^T + a) B^T + b) c`` (widths
    ``TEACHER_WIDTHS``, scaled to unit variance). Every draw comes from ``seed``: numpy for the teacher and the
    rows, a ``torch.Generator`` for the initialisation (torch's default, uniform within 1/sqrt(fan_in)) and the
    batches; the global torch RNG is left alone.
    """
    try:
        import torch
    except ImportError:
        raise ImportError('the trained queries case needs torch: pip install "narrowrelu[torch]"') from None
    rng = np.random.default_rng([case.d, case.k, seed, 1])
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    (w1, w2), d = TEACHER_WIDTHS, case.d
    A, a = rng.standard_normal((w1, d)) / np.sqrt(d), 0.5 * rng.standard_normal(w1)
    B, b = rng.standard_normal((w2, w1)) / np.sqrt(w1), 0.5 * rng.standard_normal(w2)
    c = rng.standard_normal(w2)
    X = rng.standard_normal((rows, d))
    y = np.maximum(np.maximum(X @ A.T + a, 0) @ B.T + b, 0) @ c
    y = (y - y.mean()) / y.std()
    layers = [torch.nn.utils.skip_init(torch.nn.Linear, d, case.k), torch.nn.ReLU(),
              torch.nn.utils.skip_init(torch.nn.Linear, case.k, 1)]
    with torch.no_grad():
        for layer in layers[::2]:
            bound = 1 / np.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                p.copy_((2 * torch.rand(p.shape, generator=generator) - 1) * bound)
    model = torch.nn.Sequential(*layers)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=TRAIN_LR)
    for _ in range(epochs):
        order = torch.randperm(rows, generator=generator)
        for lo in range(0, rows, TRAIN_BATCH):
            batch = order[lo:lo + TRAIN_BATCH]
            loss = torch.mean((model(Xt[batch])[:, 0] - yt[batch]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
    W, beta = (p.detach().double().numpy() for p in (layers[0].weight, layers[0].bias))
    out_w, out_b = (p.detach().double().numpy() for p in (layers[2].weight, layers[2].bias))
    truth = ReLUNetwork(out_w[0], W, intercept=float(out_b[0]), biases=beta)
    with torch.no_grad():
        train_mse = float(torch.mean((model(Xt)[:, 0] - yt) ** 2))
    return model, truth, {"train_rows": rows, "epochs": epochs, "train_mse": train_mse}


class CountingOracle:
    """``truth`` as a numpy callable in ``dtype`` that counts its queries."""

    def __init__(self, truth: ReLUNetwork, dtype: str):
        self.dtype = np.dtype(dtype)
        self.U, self.w = truth.directions.astype(self.dtype), truth.weights.astype(self.dtype)
        self.b = (truth.biases if truth.biases is not None else np.zeros(truth.k)).astype(self.dtype)
        self.queries = 0

    def __call__(self, X):
        self.queries += len(X)
        X = np.asarray(X, dtype=self.dtype)
        return np.maximum(X @ self.U.T + self.b, 0) @ self.w


def compare(net: ReLUNetwork, truth: ReLUNetwork, rng, live=None) -> dict:
    """Worst angle, worst relative parameter error (over the ``live`` units of ``truth``, default all) and worst
    relative prediction error."""
    lift = lambda n: np.hstack([n.directions, (np.zeros(n.k) if n.biases is None else n.biases)[:, None]])  # noqa: E731
    X = rng.standard_normal((CHECK_ROWS, truth.d))
    f = truth.predict(X)
    result = {"prediction": float(np.max(np.abs(net.predict(X) - f)) / np.max(np.abs(f)))}
    live = np.ones(truth.k, bool) if live is None else live
    if net.k < live.sum() or net.linear is not None or net.k == 0:
        return result | {"worst_angle": float("nan"), "worst_parameter": float("nan")}
    angles = angles_between(lift(truth)[live], lift(net))
    match = angles.argmin(axis=1)
    A, B = lift(truth)[live], lift(net)[match]
    entries = np.abs(A - B).max(axis=1) / np.abs(A).max(axis=1)
    weights = np.abs(net.weights[match] - truth.weights[live]) / np.abs(truth.weights[live])
    return result | {"worst_angle": float(angles.min(axis=1).max()),
                     "missing_live": int(np.sum(angles.min(axis=1) > MATCHED)),
                     "worst_parameter": float(max(entries.max(), weights.max())),
                     "distinct_matches": int(len(set(match.tolist())))}


def identify_record(case: QueryCase, seed: int) -> dict:
    if case.trained:
        return trained_record(case, seed)
    truth = network(case, seed)
    oracle = CountingOracle(truth, case.dtype)
    start = time.perf_counter()
    try:
        net = identify(oracle, d=case.d, random_state=seed)
    except ValueError as exc:
        return {"method": "identify", "note": str(exc)[:300], "queries": oracle.queries,
                "seconds": round(time.perf_counter() - start, 3)}
    seconds = time.perf_counter() - start
    return _identified(net, oracle.queries, seconds) | compare(net, truth, np.random.default_rng(seed + 99))


def trained_record(case: QueryCase, seed: int) -> dict:
    """identify on a trained torch module (:func:`trained_network`), the module itself as the oracle; skipped
    with a note when torch is missing."""
    try:
        module, truth, training = trained_network(case, seed)
    except ImportError as exc:
        return {"method": "identify", "note": f"skipped: {exc}", "queries": 0, "seconds": 0.0}
    distance = truth.biases / np.linalg.norm(truth.directions, axis=1)
    live = np.abs(distance) <= GAUSSIAN_SIGMAS
    units = {"dead_true": int(np.sum(distance < -GAUSSIAN_SIGMAS)),
             "always_active_true": int(np.sum(distance > GAUSSIAN_SIGMAS)), "live_true": int(live.sum()),
             "smallest_weight": float(np.min(np.abs(truth.weights)) / np.median(np.abs(truth.weights))),
             "closest_units": float(np.min(angles_between(truth.directions, truth.directions)
                                          + np.diag(np.full(truth.k, np.inf))))}
    start = time.perf_counter()
    try:
        net = identify(module, random_state=seed)
    except ValueError as exc:
        return {"method": "identify", "note": str(exc)[:300], "queries": None,
                "seconds": round(time.perf_counter() - start, 3)} | training | units
    seconds = time.perf_counter() - start
    stage = net.report.stages[0]
    return (_identified(net, stage["queries"], seconds) | training | units
            | {"dead_reported": stage["dead"], "always_active_reported": stage["always_active"],
               "queried_dtype": stage["dtype"], "model_dtype": stage["model_dtype"]}
            | compare(net, truth, np.random.default_rng(seed + 99), live))


def _identified(net: ReLUNetwork, queries: int, seconds: float) -> dict:
    """The figures of identify's report in a record."""
    stage = net.report.stages[0]
    return {"method": "identify", "queries": queries, "seconds": round(seconds, 3),
            "units": net.k, "lines": stage["lines"], "signs": stage["signs"],
            "reported_prediction_error": stage["prediction_error"], "reported_precision": stage["hyperplane_residual"],
            "rounding_ratio": stage["prediction_error"] / stage["oracle_rounding"],
            "hunted_units": stage["hunted_units"], "warnings": net.report.warnings,
            "queries_to_target": queries, "queries_to_exact": queries}


def learn_record(case: QueryCase, seed: int) -> dict:
    """learn on fresh rows of the same oracle, at growing sizes, until EXACT (or the cap)."""
    truth = network(case, seed)
    record = {"method": "learn", "queries_to_target": None, "queries_to_exact": None, "tried": []}
    start = time.perf_counter()
    for per_dk in LEARN_ROWS:
        n = min(per_dk * case.d * case.k, LEARN_MAX_ROWS)
        oracle = CountingOracle(truth, case.dtype)
        net = learn(FunctionSource(oracle, case.d, n, random_state=seed), k=case.k, random_state=seed)
        error = relative_error(net, truth)  # closed form, hidden biases included
        record["tried"].append({"n": n, "queries": oracle.queries, "relative_error": float(error)})
        if error <= TARGET and record["queries_to_target"] is None:
            record["queries_to_target"] = oracle.queries
        if error <= EXACT:
            record["queries_to_exact"] = oracle.queries
            break
        if n == LEARN_MAX_ROWS:
            break
    record["relative_error"] = record["tried"][-1]["relative_error"]
    record["error_kind"] = "exact"
    return record | {"seconds": round(time.perf_counter() - start, 3)}


def run(out: Path, meta: dict, progress=None, cases=CASES, seeds: int | None = None) -> dict:
    """Run (or continue) the suite; write ``results.json`` and ``results.md`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    file = out / "results.json"
    results = json.loads(file.read_text()) if file.exists() else {"meta": meta, "records": []}
    done = {(r["d"], r["k"], r["biases"], r["dtype"], r["seed"], r["method"], r.get("trained", False))
            for r in results["records"]}
    plan = [(c, s, m) for c in cases for s in range(c.first_seed, c.first_seed + (seeds or c.seeds))
            for m in ("identify", "learn")[: 1 + c.learn]]
    with threadpool_limits(1, user_api="blas"):
        for count, (case, seed, method) in enumerate(plan, 1):
            key = (case.d, case.k, case.biases, case.dtype, seed, method, case.trained)
            if key not in done:
                record = (identify_record if method == "identify" else learn_record)(case, seed)
                results["records"].append(asdict(case) | {"seed": seed} | record)
                temporary = file.with_suffix(".tmp")
                temporary.write_text(json.dumps(results, indent=1, default=float))
                temporary.replace(file)
            if progress:
                progress(count, len(plan), f"d={case.d} k={case.k} {case.dtype} seed={seed} {method}")
    results["meta"]["finished"] = time.strftime("%Y-%m-%d %H:%M")
    file.write_text(json.dumps(results, indent=1, default=float))
    write_markdown(results, out / "results.md")
    return results


def _fmt(value, spec=".1e") -> str:
    return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, spec)


def write_markdown(results: dict, path: Path) -> None:
    meta = results["meta"]
    lines = [f"# narrowrelu benchmark: suite `{meta['suite']}`", "",
             f"commit {meta.get('commit')}, {meta.get('date')}, {meta.get('cores')} cores ({meta.get('machine')}), "
             f"python {meta.get('python')}", "",
             *[f"records added later ({a['cases']}): commit {a['commit']}, {a['date']}, load {a['load']}" for a in
               meta.get("additions", [])], "",
             "## identify (one row per run)", "",
             "| case | d | k | biases | oracle | seed | units | queries | lines | seconds | worst angle (rad) "
             "| worst param. rel. | prediction rel. | signs | note |", "|---" * 15 + "|"]
    for r in results["records"]:
        if r["method"] != "identify":
            continue
        lines.append(f"| {r['tag']} | {r['d']} | {r['k']} | {'yes' if r['biases'] else 'no'} | {r['dtype']} | "
                     f"{r['seed']} | {r.get('units', '–')} | {r['queries']:,} | {r.get('lines', '–')} | "
                     f"{r['seconds']:.2f} | {_fmt(r.get('worst_angle'))} | {_fmt(r.get('worst_parameter'))} | "
                     f"{_fmt(r.get('prediction'))} | {r.get('signs', '–')} | "
                     f"{(r.get('note') or '; '.join('warning: ' + w for w in r.get('warnings', [])))[:80]} |")
    lines += ["", "## float32 oracles: accepted, complete (every unit within 1e-3 rad), worst parameter error", "",
              "| cases | runs | accepted | complete | refused | worst parameter (complete runs) | units hunted |",
              "|---" * 7 + "|"]
    float32 = [r for r in results["records"] if r["method"] == "identify" and r["dtype"] == "float32"]
    for tag in dict.fromkeys(f"{r['tag']} (d={r['d']}, k={r['k']})" if "draw" not in r["tag"] else r["tag"]
                             for r in float32):
        group = [r for r in float32
                 if (f"{r['tag']} (d={r['d']}, k={r['k']})" if "draw" not in r["tag"] else r["tag"]) == tag]
        accepted = [r for r in group if "units" in r]
        complete = [r for r in accepted if np.isfinite(r.get("worst_angle", np.nan)) and r["worst_angle"] < 1e-3
                    and r.get("distinct_matches") == r["k"] and r["units"] == r["k"]]
        errors = [r["worst_parameter"] for r in complete]
        lines.append(f"| {tag} | {len(group)} | {len(accepted)} | {len(complete)} | {len(group) - len(accepted)} | "
                     + (f"{min(errors):.1e} to {max(errors):.1e}" if errors else "–")
                     + f" | {sum(r.get('hunted_units', 0) for r in accepted)} |")
    trained = [r for r in results["records"] if r.get("trained") and r["method"] == "identify"]
    if trained:
        lines += ["", "## trained networks (a float32 torch module as the oracle; parameters over the live units)", "",
                  "| d | k | seed | train MSE | live / dead / always active (true) | units found | dead reported "
                  "| missing live | queries | seconds | worst angle | worst param. rel. | prediction rel. | note |",
                  "|---" * 14 + "|"]
        for r in trained:
            lines.append(f"| {r['d']} | {r['k']} | {r['seed']} | {_fmt(r.get('train_mse'), '.3f')} | "
                         f"{r.get('live_true', '–')} / {r.get('dead_true', '–')} / {r.get('always_active_true', '–')}"
                         f" | {r.get('units', '–')} | {len(r.get('dead_reported', []))} | "
                         f"{r.get('missing_live', '–')} | {_fmt(r.get('queries'), ',')} | {r['seconds']:.1f} | "
                         f"{_fmt(r.get('worst_angle'))} | {_fmt(r.get('worst_parameter'))} | "
                         f"{_fmt(r.get('prediction'))} | {(r.get('note') or '; '.join(r.get('warnings', [])))[:80]} |")
    lines += ["", "## queries needed: identify against learn on the same oracle", "",
              "| d | k | biases | seed | identify: to 1e-4 = to exact | learn: to 1e-4 | learn: to exact (1e-9) "
              "| learn's last relative error | learn seconds |", "|---" * 9 + "|"]
    by_key = {(r["d"], r["k"], r["biases"], r["dtype"], r["seed"], r["method"]): r for r in results["records"]}
    for (d, k, biases, dtype, seed, method), r in by_key.items():
        if method != "learn":
            continue
        ident = by_key.get((d, k, biases, dtype, seed, "identify"), {})
        lines.append(f"| {d} | {k} | {'yes' if biases else 'no'} | {seed} | "
                     f"{_fmt(ident.get('queries_to_exact'), ',')} | "
                     f"{_fmt(r['queries_to_target'], ',')} | {_fmt(r['queries_to_exact'], ',')} | "
                     f"{r['relative_error']:.1e} ({r['error_kind'].split(' ')[0]}) | {r['seconds']:.1f} |")
    path.write_text("\n".join(lines) + "\n")
