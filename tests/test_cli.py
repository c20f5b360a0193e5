import subprocess
import sys

import pytest

from narrowrelu.cli import main


def test_demo_small_setting_recovers(capsys):
    assert main(["demo", "--family", "random", "--d", "8", "--k", "3", "--n", "20000", "--no-baseline"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("narrowrelu (auto)"))
    assert " recovered" in row and "3/3" in row


def test_demo_with_the_adam_baseline(capsys):
    pytest.importorskip("torch")
    assert main(["demo", "--family", "random", "--d", "6", "--k", "2", "--n", "5000"]) == 0
    assert any(line.startswith("PyTorch Adam") for line in capsys.readouterr().out.splitlines())


def test_user_mistake_exits_2_with_one_line():
    result = subprocess.run([sys.executable, "-m", "narrowrelu.cli", "demo", "--k", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "narrowrelu: error: k must be an integer >= 1, got 0"
    assert "Traceback" not in result.stderr
