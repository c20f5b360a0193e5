"""The README's examples run as written (bash blocks through the CLI, python blocks as code)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```(bash|python)\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_opens_with_the_two_setup_commands():
    language, body = BLOCKS[0]
    lines = body.strip().splitlines()
    assert language == "bash" and len(lines) == 2
    assert lines[0].endswith("narrowrelu demo") and lines[1].endswith("python -m pytest")


def test_readme_examples_run(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)
    for language, body in BLOCKS[1:]:
        if language == "python":
            exec(compile(body, "README.md", "exec"), {})
            continue
        for line in body.strip().splitlines():
            assert line.startswith("narrowrelu "), line
            result = subprocess.run([sys.executable, "-m", "narrowrelu", *line.split()[1:]], capture_output=True,
                                    text=True)
            assert result.returncode == 0, (line, result.stderr)
    assert (tmp_path / "model.onnx").exists() and (tmp_path / "report.png").exists()
