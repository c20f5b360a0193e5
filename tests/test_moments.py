import math

import numpy as np
import pytest
from conftest import Z
from hypothesis import given, settings
from hypothesis import strategies as st

from narrowrelu import moments, planted
from narrowrelu.engines import Engine
from narrowrelu.hermite import contraction_weights, relu_coefficient
from narrowrelu.sources import ArraySource


def true_contraction(net, g, degree):
    w, U = net.weights, net.directions
    return relu_coefficient(degree) * np.einsum("i,i,ij,ik->jk", w, (U @ g) ** (degree - 2), U, U)


@pytest.fixture(scope="module")
def data():
    net = planted.make("random", 5, 3, random_state=7)
    X, y = planted.sample(net, 200_000, random_state=8)
    return net, X, y


def unit(rng, d):
    g = rng.standard_normal(d)
    return g / np.linalg.norm(g)


@pytest.mark.parametrize("degree", [2, 4, 6])
def test_contraction_unbiased_within_standard_errors(data, degree, rng):
    """Entrywise |M_hat - M| < Z se, se from the per-row terms of the (residualised) estimator."""
    net, X, y = data
    g = unit(rng, 5)
    estimate = moments.contraction(X, y, g, degree)
    r = y - moments.low_degree(X, y).quadratic_model().predict(X) if degree >= 4 else y
    a, b, c = contraction_weights(degree, X @ g)
    K = (a[:, None, None] * (X[:, :, None] * X[:, None, :] - np.eye(5))
         + b[:, None, None] * (g[None, :, None] * X[:, None, :] + X[:, :, None] * g[None, None, :])
         + c[:, None, None] * np.outer(g, g))
    terms = r[:, None, None] * K
    np.testing.assert_allclose(estimate, terms.mean(0), atol=1e-10)
    se = terms.std(0) / math.sqrt(len(y))
    assert np.all(np.abs(estimate - true_contraction(net, g, degree)) < Z * se)


def test_low_degree_moments_within_standard_errors(data):
    net, X, y = data
    m = moments.low_degree(X, y)
    n = len(y)
    assert abs(m.T0 - relu_coefficient(0) * net.weights.sum()) < Z * y.std() / math.sqrt(n)
    t1 = y[:, None] * X
    assert np.all(np.abs(m.T1 - 0.5 * net.weights @ net.directions) < Z * t1.std(0) / math.sqrt(n))
    t2 = y[:, None, None] * (X[:, :, None] * X[:, None, :] - np.eye(5))
    T2 = relu_coefficient(2) * np.einsum("i,ij,ik->jk", net.weights, net.directions, net.directions)
    assert np.all(np.abs(m.T2 - T2) < Z * t2.std(0) / math.sqrt(n))


def test_residualisation_reduces_variance_on_random_family():
    ratios = []
    for seed in range(5):
        net = planted.make("random", 10, 4, random_state=seed)
        X, y = planted.sample(net, 50_000, random_state=seed + 100)
        r = y - moments.low_degree(X, y).quadratic_model().predict(X)
        ratios.append(y.var() / r.var())
    # docs/maths.md §2: ReLU puts ~98% of its energy in degrees <= 2; measured here 10-40x.
    assert min(ratios) > 5


def test_batch_noise_scale_tracks_true_standard_error():
    """The batch-spread standard error of T2 agrees with the spread over independent samples."""
    net = planted.make("random", 6, 3, random_state=0)
    errors, estimates = [], []
    T2 = relu_coefficient(2) * np.einsum("i,ij,ik->jk", net.weights, net.directions, net.directions)
    for seed in range(12):
        X, y = planted.sample(net, 20_000, random_state=seed)
        m = moments.low_degree(X, y, n_batches=16)
        errors.append(np.abs(np.linalg.eigvalsh(m.T2 - T2)).max())
        estimates.append(m.T2_noise())
    ratio = math.sqrt(np.mean(np.square(errors))) / np.mean(estimates)
    assert 0.5 < ratio < 2.0


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=6), st.integers(1, 4))
def test_any_chunking_gives_the_same_state(cuts, n_jobs):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((700, 4)), rng.standard_normal(700)
    G = np.array([unit(rng, 4), unit(rng, 4)])
    spec = moments.MomentSpec(d=4, degrees=(4, 6), directions=G, n_batches=3, batch_rows=7)
    whole = moments.finalize(moments.update(moments.init(spec), spec, X, y), spec)
    state, start = moments.init(spec), 0
    for cut in cuts + [700]:
        stop = min(start + cut, 700)
        state = moments.update(state, spec, X[start:stop], y[start:stop], start)
        start = stop
        if start == 700:
            break
    pieces = moments.finalize(state, spec)
    threaded = moments.finalize(moments.accumulate(X, y, spec, n_jobs=n_jobs, chunk_size=cuts[0] + 50), spec)
    for other in (pieces, threaded):
        np.testing.assert_allclose(other.M, whole.M, atol=1e-10)
        np.testing.assert_allclose(other.batch_M, whole.batch_M, atol=1e-10)
        np.testing.assert_allclose(other.T2, whole.T2, atol=1e-10)
        assert other.n == 700


def test_merge_is_a_sum_and_runs_are_reproducible():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((5000, 3)), rng.standard_normal(5000)
    spec = moments.MomentSpec(d=3, degrees=(4,), directions=np.eye(3), batch_rows=64)
    one = moments.accumulate(X, y, spec, n_jobs=1, chunk_size=700)
    two = moments.accumulate(X, y, spec, n_jobs=2, chunk_size=700)
    np.testing.assert_array_equal(one.gram, two.gram)  # chunk sums merged in chunk order: no n_jobs in the bits
    engine = Engine(n_jobs=3, chunk_rows=700).run(ArraySource(X, y), spec)[0]
    np.testing.assert_array_equal(engine.gram, one.gram)
    a = moments.update(moments.init(spec), spec, X[:2000], y[:2000], 0)
    b = moments.update(moments.init(spec), spec, X[2000:], y[2000:], 2000)
    np.testing.assert_allclose(moments.merge(a, b).gram, one.gram, atol=1e-9)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X, y: moments.contraction(X, y, np.ones(3), 4), "g must be a unit vector"),
        (lambda X, y: moments.contraction(X, y, np.ones(2) / 2**0.5, 4), "g must have length 3"),
        (lambda X, y: moments.contraction(X, y, np.eye(3)[0], 3), "degree must be an even"),
        (lambda X, y: moments.contraction(X[:5], y, np.eye(3)[0], 4), "mismatched lengths"),
        (lambda X, y: moments.contraction(X[0], y, np.eye(3)[0], 4), "X must be a 2-dimensional"),
        (lambda X, y: moments.contraction(np.where(X > 2, np.nan, X), y, np.eye(3)[0], 4), "X contains NaN"),
        (lambda X, y: moments.contraction(X, y * np.inf, np.eye(3)[0], 4), "y contains NaN or inf"),
        (lambda X, y: moments.MomentSpec(d=3, degrees=(4,)), "directions must be"),
        (lambda X, y: moments.MomentSpec(d=3, degrees=(5,), directions=np.eye(3)), "even integers"),
    ],
)
def test_bad_input(call, match):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=match):
        call(rng.standard_normal((50, 3)), rng.standard_normal(50))


def test_network_hermite_moments_match_sample_moments_within_standard_errors():
    """ReLUNetwork.hermite_moments (closed form) against the sample moments of its outputs."""
    net = planted.make("random", 5, 3, random_state=3)
    net.linear, net.intercept = np.linspace(-1.0, 1.0, 5), 0.7
    X = np.random.default_rng(4).standard_normal((200_000, 5))
    y, n = net.predict(X), len(X)
    T0, T1, T2 = net.hermite_moments()
    m = moments.low_degree(X, y)
    assert abs(m.T0 - T0) < Z * y.std() / math.sqrt(n)
    assert np.all(np.abs(m.T1 - T1) < Z * (y[:, None] * X).std(0) / math.sqrt(n))
    t2 = y[:, None, None] * (X[:, :, None] * X[:, None, :] - np.eye(5))
    assert np.all(np.abs(m.T2 - T2) < Z * t2.std(0) / math.sqrt(n))


def test_quadratic_model_on_a_network_removes_its_low_degree_misfit(rng):
    """With the true network, q' = net + the fit of y - net: residuals vanish; with a part of
    it, what is missed keeps only its degree >= 4 components (T2 projected on their span)."""
    net = planted.make("random", 6, 3, random_state=5)
    X, y = planted.sample(net, 50_000, random_state=6)
    low, n = moments.low_degree(X, y), len(y)
    # y - q'(x) is the sampling error of T0, T1, T2 read as a polynomial: E of its square is
    # var(y) + sum_j var(y x_j) + 1/2 sum_jk var(y He2_jk), over n.
    t2 = y[:, None, None] * (X[:, :, None] * X[:, None, :] - np.eye(6))
    expected = (y.var() + (y[:, None] * X).var(0).sum() + 0.5 * t2.var(0).sum()) / n
    assert np.mean((y - low.quadratic_model(net).predict(X)) ** 2) < Z**2 * expected
    part = planted.ReLUNetwork(net.weights[:2], net.directions[:2])
    span = np.linalg.qr(net.directions.T)[0]
    r = y - low.quadratic_model(part, span=span).predict(X)
    missed = net.weights[2] * np.maximum(X @ net.directions[2], 0.0)
    assert r.var() < 0.05 * missed.var()  # a ReLU's degree >= 3 energy is ~2% of its variance
    P = span @ span.T
    np.testing.assert_allclose(low.quadratic_model(span=span).T2, P @ low.T2 @ P)


def test_squared_target_second_moment_within_standard_errors():
    r"""For y = relu(<u, x>), E[y^2 (xx^T - I)] = u u^T (E t^4 1[t>0] - E t^2 1[t>0] = 3/2 - 1/2)."""
    rng = np.random.default_rng(9)
    u = unit(rng, 4)
    X = rng.standard_normal((200_000, 4))
    y = np.maximum(X @ u, 0.0)
    spec = moments.MomentSpec(d=4, squared=True)
    m = moments.finalize(moments.accumulate(X, y, spec), spec)
    w = y**2 - np.mean(y**2)  # centred: (sum w xx^T - mean(w) sum xx^T) / n
    terms = w[:, None, None] * (X[:, :, None] * X[:, None, :] - np.eye(4))
    np.testing.assert_allclose(m.T2_squared, terms.mean(0), atol=1e-10)
    assert np.all(np.abs(m.T2_squared - np.outer(u, u)) < Z * terms.std(0) / math.sqrt(len(y)))
    assert m.T2_squared_noise() > 0
