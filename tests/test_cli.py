import subprocess
import sys

from narrowrelu.cli import main


def test_demo_small_setting_recovers(capsys):
    assert main(["demo", "--d", "8", "--k", "3", "--n", "20000", "--theta", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "exact relative population error" in out and "(recovered" in out


def test_user_mistake_exits_2_with_one_line():
    result = subprocess.run([sys.executable, "-m", "narrowrelu.cli", "demo", "--k", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "narrowrelu: error: k must be an integer >= 1, got 0"
    assert "Traceback" not in result.stderr
