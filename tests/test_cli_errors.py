"""Every user-caused CLI error: exit status 2, one line on stderr naming the problem, inputs untouched."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from narrowrelu import planted

pytest.importorskip("click")


def run(*args, cwd, prelude=""):
    code = f"import sys; {prelude}from narrowrelu.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 20_000, random_state=1)
    np.savez(folder / "data.npz", X=X, y=y)
    truth.save(folder / "truth.json")
    return folder


def one_error_line(result, *needles):
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("narrowrelu: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("option, needles", [
    ("threshold=abc", ["threshold", "a number > 0", "'abc'"]),
    ("polish=maybe", ["polish", "true or false", "'maybe'"]),
    ("max_stages=-1", ["max_stages", "an integer >= 0"]),
    ("degrees=4", ["degrees", "even integers >= 4"]),
    ("candidates=grid", ["candidates", "'moments', 'net'"]),
    ("close_pair_repair=1", ["close_pair_repair", "true or false"]),
    ("no_such_thing=1", ["unknown option", "no_such_thing", "it accepts"]),
])
def test_a_bad_method_option_is_one_line_and_touches_nothing(data, option, needles):
    before = digest(data / "data.npz")
    result = run("fit", "data.npz", "--k", "2", "--option", option, "-o", "model.json", cwd=data)
    one_error_line(result, *needles)
    assert digest(data / "data.npz") == before
    assert not (data / "model.json").exists()


def test_a_paper_method_refuses_an_option_only_auto_uses(data):
    result = run("fit", "data.npz", "--k", "2", "--method", "cn24", "--option", "fill_threshold=1", "-o", "m.json",
                 cwd=data)
    one_error_line(result, "fill_threshold", "'cn24'")
    assert not (data / "m.json").exists()


@pytest.mark.parametrize("param, needles", [
    ("theta=abc", ["theta", "a number", "'abc'"]),
    ("weight_range=abc", ["weight_range", "a list of 2 numbers"]),
    ("L=true", ["L", "a number"]),
    ("nothing=1", ["unknown parameter", "nothing"]),
])
def test_a_bad_family_knob_is_one_line_and_writes_nothing(data, param, needles):
    result = run("generate", "close-pair", "--d", "4", "--k", "2", "--n", "100", "--param", param, "-o", "out.npz",
                 cwd=data)
    one_error_line(result, *needles)
    assert not (data / "out.npz").exists()


def test_a_missing_optional_dependency_names_its_extra(data):
    before = digest(data / "data.npz")
    model = run("fit", "data.npz", "--k", "2", "--seed", "0", "-o", "fitted.json", cwd=data)
    assert model.returncode == 0, model.stderr
    result = run("predict", "fitted.json", "data.npz", "-o", "p.parquet", cwd=data,
                 prelude="sys.modules['pyarrow'] = None; ")
    one_error_line(result, "pyarrow", 'pip install "narrowrelu[io]"')
    assert digest(data / "data.npz") == before


def test_warnings_are_one_line_each_shown_once_and_no_blank_lines(data):
    rng = np.random.default_rng(0)
    np.savez(data / "noise.npz", X=rng.standard_normal((3000, 4)), y=rng.standard_normal(3000))
    result = run("fit", "noise.npz", "--k", "auto", "--seed", "0", "-o", "noise.json", cwd=data)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("narrowrelu: warning: ") for line in lines), result.stderr
    assert len(set(lines)) == len(lines)
    assert any("FitWarning" in line and "linear model" in line for line in lines)


@pytest.mark.parametrize("memory, needles", [
    ("lots", ["memory", "'512MB'", "'lots'"]),
    ("1MB", ["memory", "below the smallest budget", "16 MiB"]),
])
def test_a_bad_memory_budget_is_one_line_and_writes_nothing(data, memory, needles):
    before = digest(data / "data.npz")
    result = run("fit", "data.npz", "--k", "2", "--memory", memory, "-o", "model.json", cwd=data)
    one_error_line(result, *needles)
    assert digest(data / "data.npz") == before and not (data / "model.json").exists()
