import math

import numpy as np
import pytest
from conftest import Z

from narrowrelu import planted
from narrowrelu.hermite import relu_coefficient
from narrowrelu.metrics import variance

SIZES = {"random": (20, 5), "orthonormal": (20, 5), "conditioned": (20, 5),
         "close-pair": (20, 5), "cluster": (20, 5), "vanishing": (20, 8)}


@pytest.mark.parametrize("family", planted.FAMILIES)
def test_every_family_shapes_and_seeding(family):
    d, k = SIZES[family]
    net = planted.make(family, d, k, random_state=3)
    assert (net.k, net.d) == (k, d)
    np.testing.assert_allclose(np.linalg.norm(net.directions, axis=1), 1.0)
    assert net.linear is None and net.intercept == 0.0
    again = planted.make(family, d, k, random_state=3)
    np.testing.assert_array_equal(net.directions, again.directions)
    np.testing.assert_array_equal(net.weights, again.weights)


def test_family_knobs():
    pair = planted.make("close-pair", 10, 2, random_state=0, theta=1e-3, L=7.0)
    cos = np.clip(pair.directions[0] @ pair.directions[1], -1, 1)
    assert math.acos(cos) == pytest.approx(1e-3, rel=1e-4)
    assert sorted(pair.weights.tolist()) == [-7.0, 7.0]
    cluster = planted.make("cluster", 10, 3, random_state=0, m=3, theta=0.05)
    assert variance(cluster) == pytest.approx(1.0)
    np.testing.assert_allclose(cluster.weights / cluster.weights[0], [1, -2, 1])
    ortho = planted.make("orthonormal", 6, 6, basis="random", random_state=0)
    np.testing.assert_allclose(ortho.directions @ ortho.directions.T, np.eye(6), atol=1e-12)
    cond = planted.make("conditioned", 8, 4, kappa=100.0, random_state=0)
    assert set(np.abs(cond.weights).round(12)) == {1.0}
    rand = planted.make("random", 8, 50, random_state=0, weight_range=(1.0, 1.5))
    assert np.all((np.abs(rand.weights) >= 1.0) & (np.abs(rand.weights) <= 1.5))


@pytest.mark.parametrize("m", [2, 4, 6])
def test_vanishing_cancels_low_degree_moments_exactly(m):
    net = planted.make("vanishing", 7, 2 * m, m=m, random_state=1)
    w, U = net.weights, net.directions
    assert abs(w.sum()) < 1e-12  # T0
    np.testing.assert_allclose(0.5 * w @ U, 0, atol=1e-12)  # T1
    T2 = relu_coefficient(2) * np.einsum("i,ij,ik->jk", w, U, U)
    assert np.abs(T2).max() < 1e-12 if m > 2 else np.abs(T2).max() > 1e-3
    T4 = relu_coefficient(4) * np.einsum("i,ij,ik,il,im->jklm", w, U, U, U, U)
    assert np.abs(T4).max() < 1e-12 if m > 4 else np.abs(T4).max() > 1e-3


def test_vanishing_low_moments_monte_carlo(rng):
    net = planted.make("vanishing", 5, 8, m=4, random_state=2)
    X, y = planted.sample(net, 300_000, random_state=rng)
    n = len(y)
    t1 = y[:, None] * X
    assert np.all(np.abs(t1.mean(0)) < Z * t1.std(0) / math.sqrt(n))
    t2 = y[:, None, None] * (X[:, :, None] * X[:, None, :] - np.eye(5))
    assert np.all(np.abs(t2.mean(0)) < Z * t2.std(0) / math.sqrt(n))


def test_sample_shapes_noise_and_seed():
    net = planted.make("random", 6, 3, random_state=0)
    X, y = planted.sample(net, 100_000, noise=0.5, random_state=4)
    assert X.shape == (100_000, 6) and y.shape == (100_000,) and X.dtype == y.dtype == np.float64
    eps = y - net.predict(X)
    target = 0.5 * math.sqrt(variance(net))
    # The sample variance of n Gaussians has standard error sigma^2 sqrt(2/(n-1)).
    assert abs(eps.var() - target**2) < Z * target**2 * math.sqrt(2 / (len(eps) - 1))
    X2, y2 = planted.sample(net, 10, noise=0.5, random_state=4)
    np.testing.assert_array_equal(X2, planted.sample(net, 10, noise=0.5, random_state=4)[0])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: planted.make("nope", 5, 2), "unknown family 'nope'"),
        (lambda: planted.make("random", 0, 2), "d must be an integer >= 1"),
        (lambda: planted.make("random", 5, 0), "k must be an integer >= 1"),
        (lambda: planted.make("random", 5, 2.5), "k must be an integer"),
        (lambda: planted.make("orthonormal", 3, 4), "k <= d"),
        (lambda: planted.make("close-pair", 5, 1), "k >= 2"),
        (lambda: planted.make("vanishing", 5, 4, m=4), "needs k >= 8"),
        (lambda: planted.make("vanishing", 5, 8, m=3), "even m"),
        (lambda: planted.make("vanishing", 1, 8), "d >= 2"),
        (lambda: planted.make("random", 5, 2, kappa=3), "unknown parameter"),
        (lambda: planted.make("random", 5, 2, random_state="x"), "random_state"),
        (lambda: planted.sample(planted.make("random", 5, 2), 0), "n must be"),
        (lambda: planted.sample(planted.make("random", 5, 2), 5, noise=-1), "noise"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
