"""The memory budget: how learn splits it, what it keeps, and that it changes nothing it need not."""

import warnings
from dataclasses import replace

import numpy as np
import pytest

from narrowrelu import learn, planted
from narrowrelu._validation import MIN_MEMORY, check_memory, duplicate_rows
from narrowrelu.engines import Engine, Sample
from narrowrelu.exceptions import FewSamplesWarning
from narrowrelu.moments import DEFAULT_CHUNK_BYTES, MomentSpec, state_bytes
from narrowrelu.pipeline import (
    CHUNK_SHARE,
    DEFAULT_MEMORY,
    KEPT_SHARE,
    MAX_KEPT_ROWS,
    MAX_VALIDATION_ROWS,
    SUMS_SHARE,
    VALIDATION_SHARE,
    Memory,
    scan,
)
from narrowrelu.report import Report
from narrowrelu.sources import open_source
from narrowrelu.subspace import grow_subspace, random_unit_vectors


@pytest.mark.parametrize("value, size", [(2**30, 2**30), ("512MB", 512 * 10**6), ("2GiB", 2 * 2**30),
                                         ("1.5G", 1_500_000_000), (" 64 mib ", 64 * 2**20)])
def test_sizes_are_read_in_decimal_and_binary_units(value, size):
    assert check_memory(value) == size


@pytest.mark.parametrize("value, needle", [("lots", "a size such as"), ("12 parsecs", "a size such as"),
                                           (1.5, "a number of bytes"), (True, "a number of bytes"),
                                           ("1MB", "below the smallest"), (MIN_MEMORY - 1, "below the smallest")])
def test_a_bad_budget_names_the_option_and_what_it_accepts(value, needle):
    with pytest.raises(ValueError, match=needle):
        check_memory(value)


def test_the_budget_splits_into_kept_rows_held_out_rows_and_chunks():
    budget = Memory(512 * 10**6)
    d = 500
    row = 8 * (d + 1)
    assert budget.kept_rows(d) == int(KEPT_SHARE * 512e6) // row  # the budget binds at d = 500
    assert budget.validation_rows(d) == int(VALIDATION_SHARE * 512e6) // row
    assert (budget.kept_rows(d) + budget.validation_rows(d)) * row <= (KEPT_SHARE + VALIDATION_SHARE) * 512e6
    assert budget.chunk_bytes * budget.jobs <= CHUNK_SHARE * 512e6 and budget.jobs == 1
    default = Memory()
    assert default.bytes == DEFAULT_MEMORY and default.chunk_bytes == DEFAULT_CHUNK_BYTES
    # the default keeps what learn always kept up to d = 200 (the recovery suites' sizes): their results stand
    assert default.kept_rows(200) == MAX_KEPT_ROWS and default.validation_rows(200) == MAX_VALIDATION_ROWS


def test_a_binding_budget_keeps_fewer_rows_and_warns():  # that it still recovers: narrowrelu bench memory
    truth = planted.make("random", 200, 2, random_state=0)
    X, y = planted.sample(truth, 30_000, random_state=1)
    with pytest.warns(FewSamplesWarning, match="memory budget of 16 MiB keeps"):
        net = learn(X, y, 2, random_state=0, memory="16MiB", max_stages=0)
    kept = net.report.stages[0]["kept_in_memory"]
    assert kept <= Memory(16 * 2**20).kept_rows(200) < 24_000
    run = 30_000 // 200  # rows are held out in runs (RowPlan): the count is the budget's to within one run
    assert net.report.n_validation <= Memory(16 * 2**20).validation_rows(200) + run


def test_a_budget_that_does_not_bind_changes_nothing():
    truth = planted.make("random", 10, 3, random_state=0)
    X, y = planted.sample(truth, 20_000, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewSamplesWarning)
        small = learn(X, y, 3, random_state=0, memory="64MiB")
    default = learn(X, y, 3, random_state=0)
    assert np.array_equal(small.directions, default.directions) and np.array_equal(small.weights, default.weights)


def test_joined_samples_equal_their_concatenation_and_free_the_parts():
    rng = np.random.default_rng(0)
    parts = [Sample(rng.normal(size=(n, 3)), rng.normal(size=n), rng.normal(size=(n // 2, 3)), rng.normal(size=n // 2))
             for n in (5, 0, 7)]
    expected = [np.concatenate([getattr(p, name) for p in parts]) for name in ("X", "y", "X_val", "y_val")]
    joined = Sample.join(parts)
    assert parts == []
    for name, want in zip(("X", "y", "X_val", "y_val"), expected, strict=True):
        assert np.array_equal(getattr(joined, name), want)


def test_duplicates_are_counted_across_parts_without_joining_them():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    X_val, y_val = np.vstack([X[:3], rng.normal(size=(7, 4))]), np.r_[y[:3], rng.normal(size=7)]
    assert duplicate_rows([(X, y), (X_val, y_val)]) == 3 == duplicate_rows([(np.vstack([X, X_val]), np.r_[y, y_val])])


def test_a_discovery_pass_whose_sums_do_not_fit_is_split_and_finds_the_same_directions():
    truth = planted.make("random", 20, 3, random_state=0)
    X, y = planted.sample(truth, 60_000, random_state=1)
    G = random_unit_vectors(np.random.default_rng(2), 12, np.eye(20))
    report = Report(method="auto", n_samples=len(y), n_train=0, n_validation=0, d=20, k=3)
    data = scan(open_source(X, y), 0.2, Engine("numpy"), report)
    small = Memory(3 * 2**20)  # the same rows; only the sums' share is small
    assert small.contractions_per_pass(20, 1) == 3 and Memory().contractions_per_pass(20, 1) >= len(G)
    found = []
    for budget in (data.memory, small):
        passes = report.passes
        V = grow_subspace(replace(data, memory=budget), np.zeros((20, 0)), 3, G, (4,), data.low.quadratic_model(),
                          2.0, report)
        found.append((V @ V.T, report.passes - passes, report.stages[-1]["signal_to_noise"]))
    (whole, one, seen), (split, four, seen_split) = found
    assert one == 1 and four == 4  # 12 vectors, 3 a pass
    assert len(seen) == 5 and np.allclose(seen_split, seen, rtol=1e-9)
    assert np.linalg.matrix_rank(whole, tol=1e-6) == 3 and np.allclose(split, whole, atol=1e-9)


def test_a_pass_runs_no_more_threads_than_its_sums_allow():
    spec = MomentSpec(d=500, degrees=(4,), directions=np.eye(500)[:20])
    for budget in (Memory(), Memory(512 * 10**6), Memory(MIN_MEMORY)):
        jobs = budget.pass_jobs(spec)
        assert jobs == 1 or (jobs + 1) * state_bytes(500, 23) <= SUMS_SHARE * budget.bytes
        assert 1 <= jobs <= budget.jobs
    narrow = MomentSpec(d=50, degrees=(4,), directions=np.eye(50)[:20])
    assert Memory(64 * 2**30).pass_jobs(narrow) == Memory(64 * 2**30).jobs  # small sums do not bind
