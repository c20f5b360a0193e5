"""The ``narrowrelu`` commands (click + rich); :mod:`narrowrelu.cli` runs them and turns errors into one line."""

from __future__ import annotations

import contextlib
import inspect
import json
import numbers
import sys
import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import planted
from ._learn import learn
from .bench.harness import SUITES
from .engines import ENGINES, Engine
from .function_source import FunctionSource
from .methods import METHODS
from .metrics import population_mse, recovery_report, relative_error
from .network import ReLUNetwork
from .oracles import PRECISIONS, is_oracle
from .sources import FORMATS, Writer, open_source

#: Matched neurons closer than this angle (radians) count as recovered in tables (ours).
NEURON_TOL = 1e-2
#: Rows per block when generating, predicting and evaluating (ours).
BLOCK_ROWS = 65536

# Tables keep their rows on one line when the output is a file or a pipe.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def _new_path(path: str) -> Path:
    path = Path(path)
    if path.exists():
        raise ValueError(f"{path} already exists; choose another output path (files are never overwritten)")
    return path


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: tuple[str, ...], what: str) -> dict:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{what} must look like NAME=VALUE, got {item!r}")
        result[key.replace("-", "_")] = _value(value)
    return result


def _family_params(family: str, params: dict) -> dict:
    """``--param`` values checked against the kind of the family's defaults (a number, a string, a pair)."""
    defaults = {name: p.default for name, p in inspect.signature(planted.FAMILIES[family]).parameters.items()
                if p.default is not inspect.Parameter.empty}
    for name, value in params.items():
        default = defaults.get(name, value)  # unknown names are refused by planted.make
        if isinstance(default, numbers.Real) or default is None:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            kind = "a number"
        elif isinstance(default, tuple):
            ok = isinstance(value, list) and len(value) == len(default) and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
            kind = f"a list of {len(default)} numbers, e.g. {list(default)}"
            value = tuple(value) if ok else value
        else:
            ok, kind = isinstance(value, type(default)), f"a {type(default).__name__}"
        if not ok:
            raise click.BadParameter(f"{name} must be {kind} for family {family!r}, got {value!r}",
                                     param_hint="--param")
        params[name] = value
    return params


def _width(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"k must be an integer >= 1 or 'auto', got {text!r}") from None


def _progress():
    """A rich progress display and the engine's callback factory (one bar per pass); nothing when
    stderr is not a terminal (a pipe or a file gets no bars and no blank lines)."""
    if not err.is_terminal:
        return contextlib.nullcontext(), None
    display = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=err, transient=True)

    def factory(label: str):
        task, begin = display.add_task(label, total=None, rate=""), time.perf_counter()

        def update(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - begin, 1e-9)
            display.update(task, completed=done, total=total, rate=f"{rate:,.0f} rows/s")

        return update

    return display, factory


def _recovery_table(net: ReLUNetwork, truth: ReLUNetwork, title: str) -> Table:
    report = recovery_report(net, truth)
    table = Table(title=title)
    for name in ("true neuron", "learned", "angle (rad)", "true weight", "learned weight", "flipped"):
        table.add_column(name, justify="right")
    for m in report.matches:
        table.add_row(str(m.truth_index), str(m.estimate_index), f"{m.angle:.2e}", f"{m.truth_weight:.4g}",
                      f"{m.estimate_weight:.4g}", "yes" if m.flipped else "")
    for i in report.unmatched_truth:
        table.add_row(str(i), "-", "unmatched", "", "", "")
    return table


def _version() -> str:
    """The installed distribution's version (``narrowrelu.__version__``)."""
    from . import __version__

    return __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="narrowrelu", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def app(debug: bool) -> None:
    """Learn narrow one-hidden-layer ReLU networks from Gaussian samples by the moment method."""


#: Rows per unit of d * k the demo draws by default (the recovery suite's multiple at d = 20).
DEMO_ROWS_PER_DK = 500


@app.command()
@click.option("--family", default="cluster", show_default=True, type=click.Choice(list(planted.FAMILIES)))
@click.option("--d", default=20, show_default=True, type=click.IntRange(1))
@click.option("--k", default=4, show_default=True, type=click.IntRange(1))
@click.option("--n", default=None, type=click.IntRange(4), help=f"Samples  [default: {DEMO_ROWS_PER_DK} d k]")
@click.option("--noise", default=0.0, show_default=True, type=click.FloatRange(0))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0))
@click.option("--baseline/--no-baseline", default=True, help="Run the tuned Adam baseline on the same data.")
@click.option("-o", "--out", "png", default="narrowrelu-demo.png", show_default=True,
              help="PNG comparing the true, learned and Adam's neurons.")
def demo(family, d, k, n, noise, seed, baseline, png) -> None:
    """Plant a hard instance, learn it, compare with tuned Adam on the same data, print exact errors.

    The default is the zoo's cluster at its default knobs (three neurons 0.1 rad apart with
    weights (1, -2, 1), scaled to unit variance, beside one random neuron), d = 20, k = 4,
    500 d k rows: the family whose low-degree moments nearly vanish, where the benchmark's
    tuned Adam (learning rate tuned on a separate seed, 3 restarts of 100 epochs) fails.
    Both errors are printed whatever they are.
    """
    from .bench.harness import TUNING_SEED, tuned_adam

    n = DEMO_ROWS_PER_DK * d * k if n is None else n
    truth = planted.make(family, d, k, random_state=seed)
    X, y = planted.sample(truth, n, noise=noise, random_state=seed + 1)
    out.print(f"planted: {family} network, d={d}, k={k}, {n} samples, noise={noise}, seed={seed}\n")
    start = time.perf_counter()
    net = learn(X, y, k, random_state=seed)
    passes = net.report.passes
    rows = [("narrowrelu (auto)", net, time.perf_counter() - start, f"{passes} data pass{'es' * (passes != 1)}")]
    out.print(str(net.report), "\n", markup=False)
    others = {}
    if baseline:
        try:
            start = time.perf_counter()
            tuning = planted.make(family, d, k, random_state=TUNING_SEED)
            adam = tuned_adam(X, y, k, tuning, random_state=seed, truth=None if noise else truth)
            others["PyTorch Adam (tuned)"] = adam
            rows.append(("PyTorch Adam", adam, time.perf_counter() - start,
                         f"lr {adam.report.options['lr']:g} (tuned on seed {TUNING_SEED}; time includes tuning), "
                         f"{adam.report['restarts']} restarts, {adam.report['epochs']} epochs"))
        except ImportError as exc:
            out.print(f"PyTorch Adam skipped: {exc}")
    table = Table(title="exact relative error E[(f_hat - f)^2] / Var f")
    for name in ("method", "rel. error", "recovered (<= 1e-4)", f"neurons (< {NEURON_TOL} rad)", "time", "notes"):
        table.add_column(name, justify="left" if name in ("method", "notes") else "right")
    for name, model, seconds, note in rows:
        error = relative_error(model, truth)
        close = sum(m.angle < NEURON_TOL for m in recovery_report(model, truth).matches)
        table.add_row(name, f"{error:.2e}", "yes" if error <= 1e-4 else "no", f"{close}/{truth.k}",
                      f"{seconds:.1f} s", note)
    out.print(table)
    try:
        from .plots import neurons_figure, save

        save(neurons_figure(net, truth, f"narrowrelu demo: {family}, d={d}, k={k}, n={n}, seed={seed}",
                            name="narrowrelu (auto)", others=others), png)
        out.print(f"figure: {png}")
    except ImportError as exc:
        out.print(f"figure skipped: {exc}")


@app.command()
@click.argument("family", type=click.Choice(list(planted.FAMILIES)))
@click.option("--d", required=True, type=click.IntRange(1), help="Input dimension.")
@click.option("--k", required=True, type=click.IntRange(1), help="Number of neurons.")
@click.option("--n", required=True, type=click.IntRange(1), help="Number of samples.")
@click.option("--noise", default=0.0, show_default=True, type=click.FloatRange(0), help="Noise, a fraction of std f.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0))
@click.option("--param", multiple=True, metavar="NAME=VALUE", help="A family knob (theta, L, kappa, m, ...).")
@click.option("-o", "--output", required=True, help=f"Data file ({', '.join(sorted(FORMATS))} or a directory).")
@click.option("--truth", default=None, help="Also write the planted network (JSON).")
@click.option("--float32", is_flag=True, help="Store single precision (half the size; readers return float64).")
def generate(family, d, k, n, noise, seed, param, output, truth, float32) -> None:
    """Plant a FAMILY network and write n samples of it (streamed in blocks)."""
    net = planted.make(family, d, k, random_state=seed, **_family_params(family, _pairs(param, "--param")))
    truth_path = _new_path(truth) if truth else None
    rng = np.random.default_rng(seed + 1)
    with Writer(output, n, d, dtype=np.float32 if float32 else np.float64) as writer:
        for start in range(0, n, BLOCK_ROWS):
            writer.append(*planted.sample(net, min(BLOCK_ROWS, n - start), noise=noise, random_state=rng))
    if truth_path:
        net.save(truth_path)
    out.print(f"wrote {n} samples of a {family} network (d={d}, k={k}, noise={noise}) to {output}"
              + (f"; truth in {truth}" if truth else ""))


@app.command()
@click.argument("data")
@click.option("--k", required=True, help="Number of neurons (an integer >= 1) or 'auto'.")
@click.option("--method", default="auto", show_default=True, type=click.Choice(list(METHODS)))
@click.option("--target", default="y", show_default=True, help="Label column of CSV and Parquet files.")
@click.option("--seed", default=None, type=click.IntRange(0), help="Seeds every random choice.")
@click.option("--validation-fraction", default=0.2, show_default=True, type=float)
@click.option("--standardize", is_flag=True, help="Inputs N(mu, Sigma): whiten, learn, map back (hidden biases).")
@click.option("--option", multiple=True, metavar="NAME=VALUE", help="A method option (narrowrelu.options).")
@click.option("--engine", default="numpy", show_default=True, type=click.Choice(ENGINES))
@click.option("--n-jobs", default=None, type=click.IntRange(1), help="Threads of the numpy engine.")
@click.option("--chunk-rows", default=None, type=click.IntRange(1), help="Rows per chunk.")
@click.option("--workers", default=None, type=click.IntRange(1), help="Dask LocalCluster processes.")
@click.option("--scheduler", default=None, help="Address of a running Dask scheduler (tcp://HOST:PORT).")
@click.option("--device", default=None, help="Torch device of the torch engine (default: cuda if present).")
@click.option("--checkpoint", default=None, help="Directory for checkpoints of long passes (numpy engine).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from --checkpoint.")
@click.option("-o", "--output", required=True, help="Model file to write (JSON).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--n", "n_rows", default=None, type=click.IntRange(4),
              help="Fresh N(0, I) rows to query when DATA is a model (.onnx or module:function).")
@click.option("--d", default=None, type=click.IntRange(1), help="Input dimension of a module:function model.")
@click.option("--memory", default=None, metavar="SIZE",
              help="Memory budget (512MB, 2GiB, ...): bounds the rows kept and the chunks  [default: 2GiB]")
@click.option("--precision", default="float64", show_default=True, type=click.Choice(PRECISIONS),
              help="Query a float32 torch or ONNX model through a float64 copy, or in its own dtype ('model').")
def fit(data, k, method, target, seed, validation_fraction, standardize, option, engine, n_jobs, chunk_rows, workers,
        scheduler, device, checkpoint, resume, output, as_json, n_rows, d, memory, precision) -> None:
    """Learn a network from DATA (streamed; or a model to query) and write it to a JSON model file."""
    model_path = _new_path(output)
    _importable_here(data)
    source = FunctionSource(data, d, n_rows, seed, precision=precision) if is_oracle(data) \
        else open_source(data, target=target, d=d, n_rows=n_rows, random_state=seed)
    display, factory = _progress()
    runner = Engine(engine, n_jobs=n_jobs, chunk_rows=chunk_rows, workers=workers, scheduler=scheduler, device=device,
                    checkpoint=checkpoint, resume=resume, progress=factory)
    with display:
        net = learn(source, None, _width(k), method=method, random_state=seed,
                    validation_fraction=validation_fraction, standardize=standardize, engine=runner,
                    memory=memory, **_pairs(option, "--option"))
    _write_model(net, model_path, as_json)


def _write_model(net: ReLUNetwork, model_path: Path, as_json: bool) -> None:
    """Save ``net`` and print its report (as JSON with ``--json``)."""
    net.save(model_path)
    if as_json:
        click.echo(json.dumps({"model": str(model_path), "report": net.report.to_dict()}, indent=2))
    else:
        out.print(str(net.report), markup=False)
        out.print(f"model: {model_path} (k={net.k}, d={net.d})")


def _importable_here(model: str) -> None:
    """A ``module:function`` model may live in the current directory, as with ``python -m``."""
    if ":" in model and not Path(model).exists() and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))


@app.command()
@click.argument("model")
@click.option("--d", default=None, type=click.IntRange(1), help="Input dimension (needed for module:function).")
@click.option("--seed", default=None, type=click.IntRange(0), help="Seeds the lines and the check queries.")
@click.option("--max-queries", default=None, type=click.IntRange(1), help="Query budget.")
@click.option("--tol", default=None, type=click.FloatRange(0, min_open=True),
              help="Largest relative residual accepted (default: sqrt of the model's machine epsilon).")
@click.option("--precision", default="float64", show_default=True, type=click.Choice(PRECISIONS),
              help="Query a float32 torch or ONNX model through a float64 copy, or in its own dtype ('model').")
@click.option("-o", "--output", required=True, help="Model file to write (JSON).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def identify(model, d, seed, max_queries, tol, precision, output, as_json) -> None:
    """Identify a one-hidden-layer ReLU MODEL (.onnx or module:function) exactly from queries."""
    from ._identify import identify as identify_network

    model_path = _new_path(output)
    _importable_here(model)
    net = identify_network(model, d, random_state=seed, max_queries=max_queries, tol=tol, precision=precision)
    _write_model(net, model_path, as_json)


@app.command()
@click.argument("model")
@click.argument("data")
@click.option("-o", "--output", required=True, help="Predictions: .npy, .npz, .csv or .parquet.")
@click.option("--target", default="y", show_default=True, help="Label column to skip in CSV and Parquet files.")
def predict(model, data, output, target) -> None:
    """Predict with MODEL on the rows of DATA (labels, if present, are ignored)."""
    net = ReLUNetwork.load(model)
    path = _new_path(output)
    if path.suffix not in (".npy", ".npz", ".csv", ".parquet"):
        raise ValueError(f"{path}: predictions are written as .npy, .npz, .csv or .parquet")
    source = open_source(data, target=target, labels=False)
    if source.n_features != net.d:
        raise ValueError(f"{source.name} has {source.n_features} feature columns; the model expects {net.d}")
    predictions = np.concatenate([net.predict(X) for _, X, _ in source.chunks(BLOCK_ROWS)] or [np.zeros(0)])
    if path.suffix == ".npy":
        np.save(path, predictions)
    elif path.suffix == ".npz":
        np.savez(path, prediction=predictions)
    elif path.suffix == ".csv":
        np.savetxt(path, predictions, header="prediction", comments="", fmt="%.17g")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"prediction": predictions}), path)
    out.print(f"wrote {len(predictions)} predictions to {path}")


@app.command()
@click.argument("model")
@click.option("--truth", default=None, help="The true network (JSON): exact errors and neuron recovery.")
@click.option("--data", default=None, help="Labelled data: empirical error.")
@click.option("--target", default="y", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def evaluate(model, truth, data, target, as_json) -> None:
    """Exact error of MODEL against --truth, or its empirical error on --data."""
    if (truth is None) == (data is None):
        raise click.UsageError("give exactly one of --truth TRUTH.json or --data DATA")
    net = ReLUNetwork.load(model)
    if truth is not None:
        reference = ReLUNetwork.load(truth)
        if reference.d != net.d:
            raise ValueError(f"the model has d={net.d}, the truth d={reference.d}")
        result = {"relative_error": relative_error(net, reference), "population_mse": population_mse(net, reference),
                  "recovery": recovery_report(net, reference).to_dict()}
        if not as_json:
            out.print(f"exact relative error {result['relative_error']:.3e} "
                      f"(population mse {result['population_mse']:.3e})")
            out.print(_recovery_table(net, reference, "neuron recovery"))
    else:
        source = open_source(data, target=target)
        if source.n_features != net.d:
            raise ValueError(f"{source.name} has {source.n_features} feature columns; the model expects {net.d}")
        sums = np.zeros(3)
        for _, X, y in source.chunks(BLOCK_ROWS):
            sums += [np.sum((net.predict(X) - y) ** 2), y.sum(), y @ y]
        n = source.n_rows
        mse, var = sums[0] / n, sums[2] / n - (sums[1] / n) ** 2
        result = {"rows": n, "mse": mse, "relative_mse": mse / var if var > 0 else float("nan")}
        if not as_json:
            out.print(f"empirical mse {mse:.4g} on {n} rows (relative to Var y: {result['relative_mse']:.4g})")
    if as_json:
        click.echo(json.dumps(result, indent=2))


@app.command()
@click.argument("model")
@click.option("--truth", default=None, help="The true network (JSON), drawn dashed.")
@click.option("-o", "--output", required=True, help="PNG file.")
def report(model, truth, output) -> None:
    """Draw MODEL's neurons (and the truth's), weights and recorded spectra to a PNG."""
    from .plots import neurons_figure, save

    net = ReLUNetwork.load(model)
    path = _new_path(output)
    reference = ReLUNetwork.load(truth) if truth else None
    if net.report is not None:
        out.print(str(net.report), markup=False)
    save(neurons_figure(net, reference, f"{model}"), path)
    out.print(f"figure: {path}")


@app.command()
@click.argument("model")
@click.option("-o", "--output", required=True, help="ONNX file (.onnx).")
@click.option("--float32", is_flag=True, help="Export in single precision (default: double).")
def export(model, output, float32) -> None:
    """Export MODEL to ONNX (input ``x`` (n, d), output ``y`` (n,))."""
    path = _new_path(output)
    if path.suffix != ".onnx":
        raise ValueError(f"{path}: models are exported as .onnx")
    ReLUNetwork.load(model).to_onnx(path, dtype=np.float32 if float32 else np.float64)
    out.print(f"onnx model: {path}")


@app.command()
@click.option("--suite", default="quick", show_default=True,
              type=click.Choice(list(SUITES)))
@click.option("--out", "out_dir", required=True, help="Directory for results.json, results.md and the plots.")
@click.option("--methods", default=None, help="Comma-separated subset of methods (default: the suite's).")
@click.option("--seeds", default=None, type=click.IntRange(1),
              help="Seeds per case; for generalization, instances per structure (default: the suite's).")
@click.option("--option", multiple=True, metavar="NAME=VALUE",
              help="An option of our methods, passed to learn (an ablation); recorded in the results.")
@click.option("--rows-per-dk", default=None, type=click.IntRange(1), metavar="N",
              help="Give every case N * d * k rows instead of the suite's (a sample-size ablation).")
def bench(suite, out_dir, methods, seeds, option, rows_per_dk) -> None:
    """Run a benchmark suite: every method on the same data, exact errors; resumable."""
    from .bench.harness import run

    display = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                       TextColumn("{task.fields[label]}"), console=err)
    with display:
        task = display.add_task(f"bench {suite}", total=None, label="")
        results = run(suite, Path(out_dir), methods=methods.split(",") if methods else None, seeds=seeds,
                      options=_pairs(option, "--option"), rows_per_dk=rows_per_dk,
                      progress=lambda done, total, label: display.update(task, completed=done, total=total,
                                                                         label=label))
    out.print(f"{len(results['records'])} records; tables in {Path(out_dir) / 'results.md'}")
