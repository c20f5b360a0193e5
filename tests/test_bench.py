"""The benchmark harness, smoke-sized: every method on one family, resumable, tables and plots written."""

import json

import numpy as np
import pytest

from narrowrelu.cli import main


def test_smoke_suite_runs_every_method_and_resumes(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from narrowrelu.bench.harness import BASELINE_NAMES, OURS

    assert main(["bench", "--suite", "smoke", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    runs = [r for r in results["records"] if r["tag"] == "zoo"]
    assert {r["method"] for r in runs} == set(OURS + BASELINE_NAMES)
    for r in runs:
        assert r["error_kind"] in ("exact", "monte-carlo") and r["seconds"] >= 0 and r["samples_used"] > 0
    auto = next(r for r in runs if r["method"] == "auto")
    assert auto["recovered"] and auto["passes"] >= 1  # the report counts the passes over the data
    safran = next(r for r in results["records"] if r["tag"] == "safran-population")
    assert safran["runs"] == 20 and safran["reference_percent"] == 0.3
    assert "## The zoo" in (tmp_path / "results.md").read_text()
    assert results["meta"]["commit"] and results["meta"]["command"] == "narrowrelu bench --suite smoke"
    # A second run finds every record done and adds nothing.
    assert main(["bench", "--suite", "smoke", "--out", str(tmp_path)]) == 0
    assert len(json.loads((tmp_path / "results.json").read_text())["records"]) == len(results["records"])


def test_unknown_suite_and_method_are_refused(tmp_path):
    from narrowrelu.bench.harness import run

    with pytest.raises(ValueError, match="unknown suite 'huge'"):
        run("huge", tmp_path)
    with pytest.raises(ValueError, match="unknown method"):
        run("smoke", tmp_path, methods=["gd"])


def test_speed_benchmark_records_both_learners_and_our_stages():
    pytest.importorskip("torch")
    from narrowrelu.bench.speed import run

    result = run(d=8, k=2, n=6_000, seeds=1, min_budget=1.0, budget_factor=1.0)
    record = result["records"][0]
    assert record["ours_error"] <= 1e-4  # an easy instance: auto recovers it
    assert set(record["ours_stage_seconds"]) >= {"moments", "neurons", "polish", "total"}
    assert record["adam_budget_seconds"] >= 1.0 and result["median_ours_seconds"] == record["ours_seconds"]
    assert result["ratio_ours_to_adam"] == record["ours_seconds"] / (record["adam_seconds_to_target"] or np.inf)
