"""The command line, run as a user runs it: subprocesses, exit codes, one-line errors."""

import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from narrowrelu import ReLUNetwork
from narrowrelu.cli import main

FORMATS = ["data.npz", "data_npy", "data.csv", "data.parquet", "data.h5", "data.zarr"]


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "narrowrelu", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_demo_small_setting_recovers_and_keeps_the_matplotlib_backend(capsys, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    backend = matplotlib.get_backend()
    png = tmp_path / "demo.png"
    assert main(["demo", "--family", "random", "--d", "8", "--k", "3", "--n", "20000", "--no-baseline",
                 "-o", str(png)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "narrowrelu (auto)" in line)
    assert "yes" in row and "3/3" in row
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert matplotlib.get_backend() == backend  # drawing never switches the user's backend


def test_demo_with_the_adam_baseline_prints_both_exact_errors(capsys, tmp_path):
    pytest.importorskip("torch")
    assert main(["demo", "--family", "random", "--d", "6", "--k", "2", "--n", "5000", "-o",
                 str(tmp_path / "d.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    adam = next(line for line in lines if "PyTorch Adam" in line)
    ours = next(line for line in lines if "narrowrelu (auto)" in line)
    for row in (adam, ours):
        assert re.search(r"\d\.\d\de[-+]\d\d", row)  # the exact relative error, printed whatever it is
    assert "tuned on seed 10000" in adam
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"


def test_version():
    from narrowrelu import __version__

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"narrowrelu {__version__}"


@pytest.mark.parametrize("name", FORMATS)
def test_generate_fit_evaluate_predict_round_trip(tmp_path, name):
    assert run("generate", "random", "--d", 5, "--k", 2, "--n", 12000, "--seed", 3, "-o", name,
               "--truth", "truth.json", cwd=tmp_path).returncode == 0
    fitted = run("fit", name, "--k", 2, "--seed", 0, "-o", "model.json", "--json", cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    assert json.loads(fitted.stdout)["report"]["n_samples"] == 12000
    evaluated = run("evaluate", "model.json", "--truth", "truth.json", "--json", cwd=tmp_path)
    assert json.loads(evaluated.stdout)["relative_error"] < 1e-4
    empirical = run("evaluate", "model.json", "--data", name, "--json", cwd=tmp_path)
    assert json.loads(empirical.stdout)["relative_mse"] < 1e-4
    assert run("predict", "model.json", name, "-o", "p.npy", cwd=tmp_path).returncode == 0
    assert np.load(tmp_path / "p.npy").shape == (12000,)


def test_report_export_and_text_output(tmp_path):
    run("generate", "close-pair", "--d", 6, "--k", 2, "--n", 20000, "--param", "theta=0.1", "-o", "d.npz",
        "--truth", "t.json", cwd=tmp_path)
    fitted = run("fit", "d.npz", "--k", "auto", "--seed", 0, "-o", "m.json", cwd=tmp_path)
    assert "held-out mse" in fitted.stdout and "model: m.json" in fitted.stdout
    assert "exact relative error" in run("evaluate", "m.json", "--truth", "t.json", cwd=tmp_path).stdout
    assert run("report", "m.json", "--truth", "t.json", "-o", "r.png", cwd=tmp_path).returncode == 0
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert run("export", "m.json", "-o", "m.onnx", cwd=tmp_path).returncode == 0
    assert ReLUNetwork.load(tmp_path / "m.json").report.method == "auto"


def _mistakes(tmp_path):
    X = np.random.default_rng(0).standard_normal((50, 3))
    np.savez(tmp_path / "good.npz", X=X, y=X[:, 0])
    rows = "".join(f"{i},{i},{i}\n" for i in range(10))
    (tmp_path / "nan.csv").write_text("a,b,y\n1,2,3\n4,nan,6\n" + rows)
    (tmp_path / "text.csv").write_text("a,b,y\n1,2,3\n4,five,6\n" + rows)
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04garbage")
    ReLUNetwork([1.0], np.eye(1, 4)).save(tmp_path / "m4.json")
    return {
        "missing file": (["fit", "nope.npz", "--k", "2", "-o", "m.json"], "nope.npz: no such file or directory"),
        "corrupt file": (["fit", "corrupt.npz", "--k", "2", "-o", "m.json"], "not a valid .npz archive"),
        "nan cell": (["fit", "nan.csv", "--k", "1", "-o", "m.json"], "row 2, column 'b' is nan"),
        "non-numeric cell": (["fit", "text.csv", "--k", "1", "-o", "m.json"], "row 2, column 'b': 'five'"),
        "missing target": (["fit", "nan.csv", "--k", "1", "--target", "z", "-o", "m.json"], "no target column 'z'"),
        "feature count": (["predict", "m4.json", "good.npz", "-o", "p.npy"], "the model expects 4"),
        "k < 1": (["fit", "good.npz", "--k", "0", "-o", "m.json"], "k must be an integer >= 1, got 0"),
        "unknown method": (["fit", "good.npz", "--k", "1", "--method", "sgd", "-o", "m.json"], "'sgd' is not one of"),
        "bad model file": (["evaluate", "good.npz", "--data", "good.npz"], "is not valid JSON"),
        "output exists": (["fit", "good.npz", "--k", "1", "-o", "good.npz"], "good.npz already exists"),
    }


@pytest.mark.parametrize("mistake", [
    "missing file", "corrupt file", "nan cell", "non-numeric cell", "missing target", "feature count", "k < 1",
    "unknown method", "bad model file", "output exists"])
def test_each_user_mistake_exits_2_with_one_line(tmp_path, mistake):
    args, message = _mistakes(tmp_path)[mistake]
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("narrowrelu: error:") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()} == digests


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "fit", "nope.npz", "--k", "2", "-o", "m.json", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr
