"""Realistic data: label offsets, row order, repeated rows, far-from-zero means, extreme labels,
tiny validation sets, messy CSV files, stale checkpoints, and the side effects of ``learn``."""

import math
import shutil
import sys
import warnings

import numpy as np
import pytest
from conftest import Z

from narrowrelu import ReLUNetwork, learn, moments, planted, relative_error
from narrowrelu import sources as sources_module
from narrowrelu._arrays import single_blas_thread
from narrowrelu.engines import Engine
from narrowrelu.exceptions import DataOrderWarning, FewSamplesWarning, FitWarning, NonGaussianInputWarning
from narrowrelu.hermite import relu_coefficient
from narrowrelu.sources import ArraySource, open_source, write
from narrowrelu.standardize import estimate


def _T2(net):
    return relu_coefficient(2) * np.einsum("i,ij,ik->jk", net.weights, net.directions, net.directions)


def _first_subspace(net):
    return next(s for s in net.report.stages if s["stage"] == "subspace")


@pytest.fixture(scope="module")
def orthonormal():
    truth = planted.make("orthonormal", 8, 3, random_state=2)
    X, y = planted.sample(truth, 40_000, random_state=3)
    return truth, X, y


# -- label offsets ---------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [100.0, 1e4])
def test_a_constant_added_to_the_labels_leaves_T2_and_its_noise_unchanged(orthonormal, offset):
    """T2 is centred: equal in exact arithmetic for y and y + c, so only rounding may differ
    (about eps * c / noise relative, 1e-10 at c = 1e4); the uncentred estimate had noise ~c."""
    truth, X, y = orthonormal
    plain, shifted = moments.low_degree(X, y), moments.low_degree(X, y + offset)
    assert shifted.T2_noise() == pytest.approx(plain.T2_noise(), rel=1e-8)
    np.testing.assert_allclose(shifted.T2, plain.T2, atol=1e-9)
    np.testing.assert_allclose(shifted.T1, plain.T1, atol=1e-9)
    # unbiased: within Z standard errors of the population T2 (se from the centred per-row terms)
    terms = (y - y.mean())[:, None, None] * (X[:, :, None] * X[:, None, :] - np.eye(8))
    assert np.all(np.abs(shifted.T2 - _T2(truth)) < Z * terms.std(0) / math.sqrt(len(y)))


def test_an_offset_costs_no_pass(orthonormal):
    truth, X, y = orthonormal
    plain, shifted = learn(X, y, 3, random_state=0), learn(X, y + 1e4, 3, random_state=0)
    assert _first_subspace(shifted)["found"] == _first_subspace(plain)["found"] == 3
    assert shifted.report.passes == plain.report.passes
    assert shifted.intercept - plain.intercept == pytest.approx(1e4, abs=1e-6)


# -- row order and repeated rows -------------------------------------------------------------


def test_noise_scale_does_not_depend_on_the_row_order(orthonormal):
    """Batches are a fixed random partition of the row indices, so sorted rows give a noise scale
    with the law of shuffled ones. With B = 64 batches each estimate has a relative spread of
    at most 1/sqrt(2 (B - 1)) = 0.09 (chi-square with B - 1 degrees of freedom); two of them
    differ by a factor within exp(Z * sqrt(2) * 0.09) = 1.9 (Z = 5). Runs of consecutive rows
    inflated it 4-12x."""
    _, X, y = orthonormal
    bound = math.exp(Z * math.sqrt(2) / math.sqrt(2 * 63))
    shuffled = moments.low_degree(X, y, n_batches=64).T2_noise()
    for order in (np.argsort(y), np.argsort(X[:, 0])):
        ratio = moments.low_degree(X[order], y[order], n_batches=64).T2_noise() / shuffled
        assert 1 / bound < ratio < bound


@pytest.mark.parametrize("sort", ["y", "x0"])
def test_sorted_rows_find_every_direction_in_pass_1_and_warn(orthonormal, sort):
    truth, X, y = orthonormal
    order = np.argsort(y if sort == "y" else X[:, 0], kind="stable")
    with pytest.warns(DataOrderWarning, match=f"sorted or grouped.*{sort} \\(F = "):
        net = learn(X[order], y[order], 3, random_state=0)
    assert _first_subspace(net)["found"] == 3
    assert relative_error(net, truth) < 1e-4


def test_shuffled_rows_do_not_warn(orthonormal):
    _, X, y = orthonormal
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataOrderWarning)
        learn(X, y, 3, random_state=0)


def test_repeated_rows_warn(orthonormal):
    _, X, y = orthonormal
    rows = np.random.default_rng(0).permutation(np.r_[np.arange(20_000), np.arange(20_000)])
    with pytest.warns(DataOrderWarning, match="repeat another row exactly"):
        learn(X[rows], y[rows], 3, random_state=0)


# -- inputs far from zero --------------------------------------------------------------------


@pytest.mark.parametrize("mean", [1e6, 1e8])
def test_standardize_is_stable_far_from_zero(mean):
    """The shifted pass loses no digits to the mean: the whitened rows have covariance I to rounding
    (the unshifted E[xx^T] - mu mu^T was off by 6e-3 at 1e6 and refused 1e8 as singular)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    Z_ = rng.standard_normal((50_000, 5)) @ np.linalg.cholesky(A @ A.T + np.eye(5)).T
    X = Z_ + mean
    before = X.copy()
    transform = estimate(ArraySource(X, np.zeros(len(X))), Engine(n_jobs=1))
    whitened = transform.transform(X)
    assert np.linalg.norm(np.cov(whitened.T, bias=True) - np.eye(5), 2) < 1e-10
    np.testing.assert_allclose(transform.mean, mean + Z_.mean(0), rtol=0, atol=4 * np.spacing(mean))
    np.testing.assert_array_equal(X, before)


def test_learn_with_standardize_at_a_mean_of_1e6():
    truth = planted.make("random", 5, 2, random_state=1)
    Zs, y = planted.sample(truth, 30_000, random_state=2)
    net = learn(Zs + 1e6, y, 2, random_state=0, standardize=True)
    test = np.random.default_rng(3).standard_normal((5000, 5))
    error = np.mean((net.predict(test + 1e6) - truth.predict(test)) ** 2) / np.var(truth.predict(test))
    assert error < 1e-4


# -- labels of extreme magnitude, tiny validation sets ----------------------------------------


@pytest.mark.parametrize("scale", [1e160, 1e-160])
def test_labels_of_extreme_magnitude_are_learned(scale):
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 20_000, random_state=1)
    labels = y * scale
    net = learn(X, labels, 2, random_state=0)
    back = ReLUNetwork(net.weights / scale, net.directions, None if net.linear is None else net.linear / scale,
                       net.intercept / scale, net.biases)
    assert relative_error(back, truth) < 1e-4
    assert np.isfinite(net.report.validation_relative) and net.report.validation_relative < 1e-4
    np.testing.assert_array_equal(labels, y * scale)  # the input is untouched


def test_an_outlying_label_beyond_float_range_is_one_clear_error():
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 20_000, random_state=1)
    y[10_000] = 1e200  # after the rows the label scale is read from: its square overflows
    with pytest.raises(ValueError, match="labels are too large: the mean of y\\^2 overflows"):
        learn(X, y, 2, random_state=0)


def test_too_few_validation_rows_is_one_clear_error():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 3)), rng.standard_normal(5)
    before = X.copy(), y.copy()
    with pytest.raises(ValueError, match="holds out 1 row; at least 2 are needed.* at least 10 rows"):
        learn(X, y, 1)
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(y, before[1])


# -- CSV files as people write them ----------------------------------------------------------


def test_csv_with_blank_lines_comments_crlf_and_quotes_reads_like_the_clean_file(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    monkeypatch.setattr(sources_module, "CSV_INDEX_ROWS", 7)  # many index points ...
    monkeypatch.setattr(sources_module, "CSV_BLOCK_BYTES", 64)  # ... and records across scan blocks
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), rng.standard_normal(50)
    lines = ["# made by hand", "", '"x0","x,1",x2,y']
    for i, row in enumerate(np.column_stack([X, y])):
        cells = [repr(float(v)) for v in row]
        if i % 5 == 0:
            cells[1] = f'"{cells[1]}"'
        lines.append(",".join(cells))
        if i % 9 == 0:
            lines += ["", "   ", "# a comment"]
    path = tmp_path / "messy.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode())
    content = path.read_bytes()
    source = open_source(path)
    assert (source.n_rows, source.columns) == (50, ["x0", "x,1", "x2"])
    for start, stop in [(0, 50), (3, 17), (13, 14), (45, 50)]:
        Xr, yr = source.read(start, stop)
        np.testing.assert_array_equal(Xr, X[start:stop])
        np.testing.assert_array_equal(yr, y[start:stop])
    assert path.read_bytes() == content


def test_few_validation_rows_warn():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    with pytest.warns(FewSamplesWarning, match="only 6 held-out rows"):
        learn(X, np.maximum(X[:, 0], 0), 1, random_state=0)


def test_csv_with_a_byte_order_mark(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffx0,y\n1,2\n".encode())
    source = open_source(path)
    assert source.columns == ["x0"] and source.read(0, 1)[1].tolist() == [2.0]


def test_csv_errors_name_row_line_and_column(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "bad.csv"
    path.write_text("# header next\nx0,x1,y\n1,2,3\n\n4,abc,6\n")
    with pytest.raises(ValueError, match=r"bad.csv: row 2, column 'x1': 'abc' is not a number \(line 5\)"):
        open_source(path).read(0, 2)


def test_csv_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "a.csv"
    path.write_text("x0,y\n1,2\n")
    monkeypatch.setitem(sys.modules, "pyarrow.csv", None)
    with pytest.raises(ImportError, match=r"pip install 'narrowrelu\[io\]'"):
        open_source(path)


# -- checkpoints -----------------------------------------------------------------------------


def test_checkpoints_of_other_data_of_the_same_shape_are_refused(tmp_path):
    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 10_000, random_state=1)
    other_X, other_y = planted.sample(truth, 10_000, random_state=2)
    learn(X, y, 2, random_state=0, engine=Engine(checkpoint=tmp_path / "arrays"))
    with pytest.raises(ValueError, match="written for other data or settings"):
        learn(other_X, other_y, 2, random_state=0, engine=Engine(checkpoint=tmp_path / "arrays", resume=True))
    # a file rewritten at the same path with the same shape (and size)
    path = tmp_path / "rows"
    write(path, X, y)
    learn(path, k=2, random_state=0, engine=Engine(checkpoint=tmp_path / "file"))
    shutil.rmtree(path)
    write(path, other_X, other_y)
    with pytest.raises(ValueError, match="written for other data or settings"):
        learn(path, k=2, random_state=0, engine=Engine(checkpoint=tmp_path / "file", resume=True))


def test_a_corrupt_checkpoint_is_one_clear_error(tmp_path):
    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 10_000, random_state=1)
    learn(X, y, 2, random_state=0, engine=Engine(checkpoint=tmp_path))
    (tmp_path / "pass-1.npz").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="pass-1.npz is not a readable checkpoint"):
        learn(X, y, 2, random_state=0, engine=Engine(checkpoint=tmp_path, resume=True))


# -- warnings with their classes -------------------------------------------------------------


def test_fewer_neurons_than_asked_warn():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, 4))
    y = 0.5 * X[:, 0] + rng.standard_normal(5000)  # linear plus noise: the linear model, no neuron
    with pytest.warns(FitWarning, match=r"linear model \(0 of the k=3 neurons asked for\)") as caught:
        net = learn(X, y, 3, random_state=0)
    assert net.k == 0 and sum(issubclass(w.category, FitWarning) for w in caught) == 1  # one warning, not two


def test_non_gaussian_inputs_warn_with_their_class():
    X = np.random.default_rng(0).standard_normal((20_000, 3)) + 0.5
    with pytest.warns(NonGaussianInputWarning, match="do not look standard Gaussian"):
        learn(X, np.maximum(X[:, 0], 0), 1, random_state=0)


def test_few_rows_with_auto_width_advise_for_the_width_chosen():
    truth = planted.make("orthonormal", 8, 2, random_state=0)
    X, y = planted.sample(truth, 2_000, random_state=1)  # 1600 training rows: < 20 d 16, > 20 d 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = learn(X, y, "auto", random_state=0)
    few = [w for w in caught if issubclass(w.category, FewSamplesWarning)]
    assert net.report.k < 10 and not few


def test_few_rows_warn_with_their_class():
    truth = planted.make("random", 8, 3, random_state=0)
    X, y = planted.sample(truth, 400, random_state=1)
    with pytest.warns(FewSamplesWarning, match="at least 480"):
        learn(X, y, 3, random_state=0)


# -- side effects ----------------------------------------------------------------------------


class _Watched(Engine):
    def close(self):
        self.closed = True
        super().close()


def test_learn_leaves_the_callers_engine_open_and_counts_its_own_passes(orthonormal, tmp_path):
    _, X, y = orthonormal
    engine = _Watched(checkpoint=tmp_path)
    first = learn(X, y, 3, random_state=0, engine=engine)
    files = sorted(p.name for p in tmp_path.iterdir())
    second = learn(X, y, 3, random_state=0, engine=engine)
    assert not getattr(engine, "closed", False)
    assert engine.passes == second.report.passes == first.report.passes
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # the same pass-1.npz, ... again
    np.testing.assert_array_equal(first.directions, second.directions)


def test_results_do_not_depend_on_the_number_of_threads(orthonormal):
    _, X, y = orthonormal
    nets = [learn(X, y, 3, random_state=0, engine=Engine(n_jobs=jobs, chunk_rows=3000)) for jobs in (1, 2)]
    np.testing.assert_array_equal(nets[0].weights, nets[1].weights)
    np.testing.assert_array_equal(nets[0].directions, nets[1].directions)
    assert nets[0].intercept == nets[1].intercept


def test_blas_limit_scopes_nest_and_restore():
    from threadpoolctl import threadpool_info

    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    with single_blas_thread():
        with single_blas_thread():
            inner = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        still = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    assert set(inner) <= {1} and set(still) <= {1}
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == before


def test_a_checkpoint_resumes_on_another_number_of_threads(tmp_path):
    """The checkpoint holds the merged state, so its digest needs no thread count."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((9000, 5)), rng.standard_normal(9000)
    spec = moments.MomentSpec(d=5)
    whole = Engine(n_jobs=2, chunk_rows=1000, checkpoint=tmp_path).run(ArraySource(X, y), spec)[0]
    resumed = Engine(n_jobs=1, chunk_rows=1000, checkpoint=tmp_path, resume=True).run(ArraySource(X, y), spec)[0]
    np.testing.assert_array_equal(resumed.gram, whole.gram)
