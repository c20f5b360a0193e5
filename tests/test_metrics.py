import math

import numpy as np
import pytest
from conftest import Z
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from narrowrelu import ReLUNetwork, planted, population_mse, relative_error
from narrowrelu.metrics import recovery_report, second_moment, variance


def random_network(rng, k, d, linear=True):
    return ReLUNetwork(
        rng.standard_normal(k),
        rng.standard_normal((k, d)),
        rng.standard_normal(d) if linear else None,
        float(rng.standard_normal()),
    )


def test_population_mse_against_monte_carlo(rng):
    a, b = random_network(rng, 4, 6), random_network(rng, 3, 6)
    X = rng.standard_normal((400_000, 6))
    sq = (a.predict(X) - b.predict(X)) ** 2
    assert abs(sq.mean() - population_mse(a, b)) < Z * sq.std() / math.sqrt(len(sq))


@pytest.mark.parametrize("seed", range(4))
def test_population_mse_brute_force_in_the_plane(seed):
    """d = 2 by polar integration: f(r w) = r h(w) + b, r ~ chi_2 (E r = sqrt(pi/2), E r^2 = 2)."""
    rng = np.random.default_rng(seed)
    a, b = random_network(rng, 3, 2), random_network(rng, 2, 2)
    diff_b = a.intercept - b.intercept

    def h(phi):
        w = np.array([[math.cos(phi), math.sin(phi)]])
        return float(((a.predict(w) - a.intercept) - (b.predict(w) - b.intercept))[0])

    kinks = sorted({(math.atan2(-u[0], u[1]) + s * math.pi) % (2 * math.pi)
                    for net in (a, b) for u in net.directions for s in (0, 1)})
    mean = lambda fn: quad(fn, 0, 2 * math.pi, points=kinks, limit=200, epsabs=1e-13)[0] / (2 * math.pi)  # noqa: E731
    exact = 2 * mean(lambda p: h(p) ** 2) + 2 * diff_b * math.sqrt(math.pi / 2) * mean(h) + diff_b**2
    assert population_mse(a, b) == pytest.approx(exact, rel=1e-8)


def test_brute_force_one_dimension():
    """d = 1: f(x) = 2 relu(x) - relu(-x) + 0.5 x + 1, integrated directly."""
    net = ReLUNetwork([2.0, -1.0], [[1.0], [-1.0]], [0.5], 1.0)
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    f = lambda x: 2 * max(x, 0) - max(-x, 0) + 0.5 * x + 1  # noqa: E731
    exact = quad(lambda x: f(x) ** 2 * phi(x), -40, 0)[0] + quad(lambda x: f(x) ** 2 * phi(x), 0, 40)[0]
    assert second_moment(net) == pytest.approx(exact, rel=1e-10)
    mean = quad(lambda x: f(x) * phi(x), -40, 0)[0] + quad(lambda x: f(x) * phi(x), 0, 40)[0]
    assert variance(net) == pytest.approx(exact - mean**2, rel=1e-10)


networks = st.builds(
    lambda seed, k, d, lin: random_network(np.random.default_rng(seed), k, d, lin),
    st.integers(0, 2**31), st.integers(1, 5), st.just(4), st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(networks, networks)
def test_mse_symmetric_and_nonnegative(a, b):
    assert population_mse(a, b) >= 0
    assert population_mse(a, b) == pytest.approx(population_mse(b, a), rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(networks, st.integers(0, 2**31))
def test_mse_invariances(a, seed):
    rng = np.random.default_rng(seed)
    assert population_mse(a, a) == pytest.approx(0, abs=1e-10 * (1 + second_moment(a)))
    order = rng.permutation(a.k)
    scale = rng.uniform(0.1, 10, a.k)
    b = ReLUNetwork(a.weights[order] / scale[order], a.directions[order] * scale[order, None],
                    a.linear, a.intercept)
    assert population_mse(a, b) == pytest.approx(0, abs=1e-10 * (1 + second_moment(a)))


def test_relative_error_and_zero_variance():
    truth = planted.make("random", 5, 3, random_state=0)
    assert relative_error(ReLUNetwork.zero(5), truth) == pytest.approx(
        second_moment(truth) / variance(truth))
    with pytest.raises(ValueError, match="zero variance"):
        relative_error(truth, ReLUNetwork.zero(5))
    with pytest.raises(ValueError, match="different input dimensions"):
        population_mse(truth, ReLUNetwork.zero(4))
    with pytest.raises(ValueError, match="must be a ReLUNetwork"):
        population_mse(truth, "net")


def test_collapse_merges_close_neurons_at_the_lemma_cost():
    u = np.array([1.0, 0.0, 0.0])
    eta = 1e-3
    v = np.array([math.cos(eta), math.sin(eta), 0.0])
    net = ReLUNetwork([1.0, 1.0, 2.0], [u, v, [0.0, 0.0, 1.0]])
    merged = net.collapse(1e-2)
    assert merged.k == 2
    assert sorted(merged.weights.tolist()) == pytest.approx([2.0, 2.0])
    # Collapse lemma: |relu<u,x> - relu<v,x>|^2 ~ eta^2/2 bounds the cost; merging at the
    # weighted mean direction cancels the first-order terms, so the cost is far smaller.
    assert 0 < population_mse(net, merged) < eta**2 / 2
    assert net.collapse(1e-4).k == 3
    cancelling = ReLUNetwork([1.0, -1.0], [u, u])
    assert cancelling.collapse(1e-6).k == 0


def test_recovery_report_matches_with_flip():
    truth = planted.make("random", 6, 3, random_state=1)
    flipped = ReLUNetwork(truth.weights[::-1], -truth.directions[::-1],
                          linear=truth.weights[::-1] @ truth.directions[::-1])
    assert relative_error(flipped, truth) < 1e-12
    report = recovery_report(flipped, truth)
    assert len(report.matches) == 3 and report.max_angle < 1e-7
    assert all(m.flipped for m in report.matches)
    assert max(abs(m.weight_error) for m in report.matches) < 1e-12
    narrower = recovery_report(ReLUNetwork(truth.weights[:2], truth.directions[:2]), truth)
    assert len(narrower.unmatched_truth) == 1 and narrower.max_angle == math.inf
    assert narrower.to_dict()["relative_error"] > 0
