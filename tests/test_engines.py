"""Engines: the same moments, and the same network, from every engine, chunking and resumption."""

import numpy as np
import pytest

from narrowrelu import learn, moments, planted, relative_error
from narrowrelu.engines import Engine, RowPlan
from narrowrelu.sources import FINGERPRINT_PLACES, ArraySource
from narrowrelu.subspace import random_unit_vectors


@pytest.fixture(scope="module")
def problem():
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 20_000, random_state=1)
    return truth, X, y


def _spec(d, rng):
    return moments.MomentSpec(d=d, degrees=(4,), directions=random_unit_vectors(rng, 3, np.eye(d)), batch_rows=500)


@pytest.mark.parametrize("n, fraction", [(4, 0.2), (1000, 0.2), (100_003, 0.3), (10_000_000, 0.2)])
def test_row_plan_holds_out_the_share_asked_for(n, fraction):
    plan = RowPlan.for_rows(n, fraction, max_validation=200_000, max_kept=400_000)
    n_val = plan.n_validation()
    assert 0 < n_val < n
    # Runs spread evenly: the count is within one run of the target share.
    assert abs(n_val - min(fraction * n, 200_000)) <= plan.run + 1
    start = min(n, 10**6)
    kept = plan.kept(0, start)
    assert not (kept & plan.validation(0, start)).any()


def test_chunking_and_threads_change_only_rounding(problem, rng):
    _, X, y = problem
    spec = _spec(6, rng)
    plan = RowPlan.for_rows(len(y), 0.2, 200_000, 400_000)
    source = ArraySource(X, y)
    a = Engine(n_jobs=1, chunk_rows=20_000).run(source, spec, plan)[0]
    b = Engine(n_jobs=2, chunk_rows=777).run(source, spec, plan)[0]
    np.testing.assert_allclose(b.gram, a.gram, rtol=1e-10, atol=1e-8)
    np.testing.assert_array_equal(a.count, b.count)
    assert a.count.sum() == len(y) - plan.n_validation()


class Interrupted(Exception):
    pass


class FailingSource(ArraySource):
    """Raises after ``fail_after`` reads, like a run killed in the middle of a pass."""

    def __init__(self, X, y, fail_after):
        super().__init__(X, y)
        self.reads, self.fail_after = 0, fail_after

    def _read(self, start, stop):
        self.reads += 1
        if self.reads > self.fail_after:
            raise Interrupted
        return super()._read(start, stop)


def test_resume_after_an_interruption_gives_the_identical_state(problem, rng, tmp_path):
    _, X, y = problem
    spec = _spec(6, rng)
    plan = RowPlan.for_rows(len(y), 0.2, 200_000, 400_000)
    settings = {"n_jobs": 2, "chunk_rows": 1000, "checkpoint_every": 2}
    whole, whole_sample = Engine(**settings).run(ArraySource(X, y), spec, plan, collect=True)
    probes = FINGERPRINT_PLACES  # the checkpoint digest reads the data's fingerprint first
    with pytest.raises(Interrupted):
        Engine(checkpoint=tmp_path, **settings).run(FailingSource(X, y, fail_after=13 + probes), spec, plan,
                                                    collect=True)
    resumed_source = FailingSource(X, y, fail_after=10**9)
    resumed, sample = Engine(checkpoint=tmp_path, resume=True, **settings).run(resumed_source, spec, plan,
                                                                               collect=True)
    # 13 chunk reads succeeded: 6 rounds of 2 chunks, checkpointed after rounds 2, 4 and 6; 8 chunks remain.
    assert resumed_source.reads == probes + 20 - 12
    for name in ("gram", "vec", "count", "sum_t"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name))
    np.testing.assert_array_equal(sample.X_val, whole_sample.X_val)


def test_resume_refuses_checkpoints_of_other_settings(problem, rng, tmp_path):
    _, X, y = problem
    plan = RowPlan.for_rows(len(y), 0.2, 200_000, 400_000)
    Engine(checkpoint=tmp_path, chunk_rows=1000).run(ArraySource(X, y), _spec(6, rng), plan)
    with pytest.raises(ValueError, match="written for other data or settings"):
        Engine(checkpoint=tmp_path, chunk_rows=1000, resume=True).run(ArraySource(X, y), _spec(6, rng), plan)


def test_learn_resumes_to_the_same_network(problem, tmp_path):
    truth, X, y = problem
    first = learn(X, y, 2, random_state=0, engine=Engine(checkpoint=tmp_path))
    again = learn(X, y, 2, random_state=0, engine=Engine(checkpoint=tmp_path, resume=True))
    for name in ("weights", "directions", "linear", "intercept", "biases"):  # bit for bit (the closed-form
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))  # error of f vs f is ~1e-33)
    assert relative_error(first, truth) < 1e-4


def test_progress_reports_every_row(problem, rng):
    _, X, y = problem
    calls = []
    Engine(chunk_rows=3000, progress=lambda label: lambda done, total: calls.append((label, done, total))).run(
        ArraySource(X, y), _spec(6, rng))
    assert calls[-1] == ("pass 1", len(y), len(y))
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)


def test_dask_engine_gives_the_same_network(problem):
    pytest.importorskip("distributed")
    import dask.array as da

    truth, X, y = problem
    reference = learn(X, y, 2, random_state=0)
    with Engine("dask", workers=2, chunk_rows=4000) as engine:
        on_dask = learn(X, y, 2, random_state=0, engine=engine)
        arrays = learn(da.from_array(X, chunks=(5000, 6)), da.from_array(y, chunks=5000), 2, random_state=0,
                       engine=engine)
    assert relative_error(on_dask, reference) <= 1e-8
    assert relative_error(arrays, reference) <= 1e-8
    assert on_dask.report.options["engine"] == "dask"


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown engine .gpu.; expected one of numpy, torch, dask"):
        Engine("gpu")


def test_torch_engine_runs_the_same_kernel_to_rounding(problem, rng):
    pytest.importorskip("torch")
    _, X, y = problem
    spec = _spec(6, rng)
    plan = RowPlan.for_rows(len(y), 0.2, 200_000, 400_000)
    ours, sample = Engine(n_jobs=1, chunk_rows=5000).run(ArraySource(X, y), spec, plan, collect=True)
    theirs, torch_sample = Engine("torch", chunk_rows=5000).run(ArraySource(X, y), spec, plan, collect=True)
    for name in ("gram", "vec", "sum_a", "sum_c", "sum_tx"):
        np.testing.assert_allclose(getattr(theirs, name), getattr(ours, name), rtol=1e-10, atol=1e-9)
    np.testing.assert_array_equal(torch_sample.X_val, sample.X_val)


def test_torch_engine_gives_the_same_network(problem):
    pytest.importorskip("torch")
    truth, X, y = problem
    reference = learn(X, y, 2, random_state=0)
    on_torch = learn(X, y, 2, random_state=0, engine="torch")
    assert relative_error(on_torch, reference) <= 1e-8
    assert on_torch.report.options["engine"] == "torch"


def test_checkpoint_digest_depends_on_the_residual_numbers_only(problem, tmp_path):
    from narrowrelu import ReLUNetwork

    _, X, y = problem
    residual = ReLUNetwork([1.0], np.eye(1, 6))
    labelled = ReLUNetwork([1.0], np.eye(1, 6))
    labelled.report = object()  # attributes without stable bytes must not enter the digest
    spec = lambda model: moments.MomentSpec(d=6, residual=model)  # noqa: E731
    engine = Engine(checkpoint=tmp_path)
    first = engine._checkpoint_file(ArraySource(X, y), spec(residual), None, [(0, 10)])[1]
    assert engine._checkpoint_file(ArraySource(X, y), spec(labelled), None, [(0, 10)])[1] == first
    moved = ReLUNetwork([2.0], np.eye(1, 6))
    assert engine._checkpoint_file(ArraySource(X, y), spec(moved), None, [(0, 10)])[1] != first
    # ... and of the networks inside a residual model (the corrected quadratic model of auto)
    quadratic = lambda net: moments.QuadraticModel(0.0, np.zeros(6), np.zeros((6, 6)), net)  # noqa: E731
    inner = engine._checkpoint_file(ArraySource(X, y), spec(quadratic(residual)), None, [(0, 10)])[1]
    assert engine._checkpoint_file(ArraySource(X, y), spec(quadratic(labelled)), None, [(0, 10)])[1] == inner
    assert engine._checkpoint_file(ArraySource(X, y), spec(quadratic(moved)), None, [(0, 10)])[1] != inner
