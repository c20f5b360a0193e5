"""FunctionSource: a model one can call as a data source, the same rows in any chunks and on every engine."""

import pickle

import numpy as np
import pytest

from narrowrelu import ReLUNetwork, learn, relative_error
from narrowrelu.engines import Engine
from narrowrelu.moments import MomentSpec
from narrowrelu.oracles import as_oracle
from narrowrelu.sources import ArraySource, FunctionSource, open_source


@pytest.fixture
def truth():
    rng = np.random.default_rng(3)
    return ReLUNetwork(rng.standard_normal(3), rng.standard_normal((3, 5)))


def test_rows_do_not_depend_on_the_chunks(truth):
    source = FunctionSource(truth.predict, d=5, n_rows=1000, random_state=7, batch_rows=64)
    X, y = source.read(0, 1000)
    parts = [source.read(a, min(a + 137, 1000)) for a in range(0, 1000, 137)]
    np.testing.assert_array_equal(X, np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(y, truth.predict(X))
    assert abs(X.mean()) < 5 / np.sqrt(X.size) and abs(X.var() - 1) < 5 * np.sqrt(2 / X.size)
    other = FunctionSource(truth.predict, d=5, n_rows=1000, random_state=8, batch_rows=64)
    assert not np.array_equal(other.read(0, 10)[0], X[:10])


def test_open_source_and_pickling(truth):
    source = open_source(truth.predict, d=5, n_rows=10, random_state=0)
    assert isinstance(source, FunctionSource) and source.n_features == 5
    with pytest.raises(ValueError, match="n_rows is required"):
        open_source(truth.predict, d=5)
    with pytest.raises(ValueError, match="d is required"):
        open_source(truth.predict, n_rows=10)


def _moments(source, engine):
    spec = MomentSpec(d=5, batch_rows=250)
    with Engine(engine, chunk_rows=700, workers=1) as runner:
        state, _ = runner.run(source, spec)
    return state


@pytest.mark.parametrize("engine", ["numpy", "torch", "dask"])
def test_every_engine_gives_the_moments_of_the_equivalent_arrays(truth, tmp_path, engine):
    if engine == "torch":
        pytest.importorskip("torch")
    if engine == "dask":
        pytest.importorskip("distributed")
    path = truth.to_onnx(tmp_path / "teacher.onnx")  # a path: the spec a Dask worker rebuilds the oracle from
    source = FunctionSource(str(path), n_rows=3000, random_state=1, batch_rows=500)
    arrays = ArraySource(*source.read(0, 3000))
    expected, got = _moments(arrays, "numpy"), _moments(source, engine)
    for name, a in vars(expected).items():
        np.testing.assert_allclose(np.asarray(getattr(got, name)), a, rtol=1e-10, atol=1e-9, err_msg=name)


class Counter:
    """``f`` counting the rows it is asked for."""

    def __init__(self, f):
        self.f, self.rows = f, 0

    def __call__(self, X):
        self.rows += len(X)
        return self.f(X)


@pytest.mark.parametrize("scale", [1.0, 1e6])  # 1e6: labels rescaled after the label-scale read
def test_learn_from_a_callable_counts_every_query(truth, scale):
    f = Counter(lambda X: scale * truth.predict(X))
    net = learn(f, d=5, k=3, n=20_000, random_state=0)
    scaled = ReLUNetwork(scale * truth.weights, truth.directions)
    assert relative_error(net, scaled) < 1e-4
    assert net.report.options["queries"] == f.rows > net.report.passes * 20_000


def test_oracle_pickles_as_its_spec(tmp_path, truth):
    path = truth.to_onnx(tmp_path / "m.onnx")
    oracle = pickle.loads(pickle.dumps(as_oracle(str(path))))
    X = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_allclose(oracle(X), truth.predict(X), rtol=1e-12)
    named = as_oracle("numpy:sum", d=2)
    assert pickle.loads(pickle.dumps(named)).spec == "numpy:sum"


def test_fresh_rows_draw_new_rows_each_pass_seeded_by_the_pass(truth, tmp_path):
    path = str(truth.to_onnx(tmp_path / "teacher.onnx"))  # pickles as its path
    source = FunctionSource(path, n_rows=300, random_state=7, batch_rows=64, fresh_rows=True)
    second = source.for_pass(2)
    assert source.for_pass(1) is source and second.for_pass(2) is second
    X1, X2 = source.read(0, 300)[0], second.read(0, 300)[0]
    assert not np.any(np.isclose(X1, X2))
    np.testing.assert_array_equal(source.for_pass(2).read(0, 300)[0], X2)  # seeded: the same rows again
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(second)).read(0, 300)[0], X2)  # a worker's copy
    plain = FunctionSource(path, n_rows=300, random_state=7, batch_rows=64)
    assert plain.for_pass(2) is plain
    np.testing.assert_array_equal(plain.read(0, 300)[0], X1)  # pass 1 is the rows without fresh_rows


@pytest.mark.parametrize("engine", ["numpy", "dask"])
def test_fresh_rows_on_an_engine_each_pass_reads_its_own_rows(truth, tmp_path, engine):
    if engine == "dask":
        pytest.importorskip("distributed")
    path = truth.to_onnx(tmp_path / "teacher.onnx")  # a path: the spec a Dask worker rebuilds the oracle from
    source = FunctionSource(str(path), n_rows=3000, random_state=1, batch_rows=500, fresh_rows=True)
    spec = MomentSpec(d=5, batch_rows=250)
    with Engine(engine, chunk_rows=700, workers=1) as runner:
        passes = [runner.run(source, spec)[0] for _ in range(2)]
    for number, got in enumerate(passes, 1):
        expected = _moments(ArraySource(*source.for_pass(number).read(0, 3000)), "numpy")
        for name, a in vars(expected).items():
            np.testing.assert_allclose(np.asarray(getattr(got, name)), a, rtol=1e-10, atol=1e-9, err_msg=name)
    assert not np.allclose(np.asarray(passes[0].sum_x), np.asarray(passes[1].sum_x))


def test_learn_with_fresh_rows_is_seeded_and_the_same_on_numpy_and_dask(truth, tmp_path):
    pytest.importorskip("distributed")
    path = str(truth.to_onnx(tmp_path / "teacher.onnx"))
    fits = []
    for engine in ("numpy", "dask"):
        source = FunctionSource(path, n_rows=20_000, random_state=3, fresh_rows=True)
        with Engine(engine, workers=1) as runner:
            fits.append(learn(source, k=3, random_state=0, engine=runner))
    assert relative_error(fits[0], truth) < 1e-9 and fits[0].report.passes >= 2
    assert relative_error(fits[1], fits[0]) < 1e-10
