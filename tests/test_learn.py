import json
import warnings

import numpy as np
import pytest

from narrowrelu import ReLUNetwork, learn, planted, relative_error
from narrowrelu.exceptions import FewSamplesWarning, FitWarning, NonGaussianInputWarning

RECOVERED = 1e-4  # docs/evaluation.md: relative population error <= 1e-4 on noiseless data

CASES = [
    ("random", 8, 3, {}),
    ("orthonormal", 6, 6, {}),
    ("conditioned", 8, 4, {"kappa": 10.0}),
    ("close-pair", 8, 3, {"theta": 0.05, "L": 5.0}),
    ("cluster", 8, 4, {"m": 3, "theta": 0.1}),
    ("vanishing", 8, 4, {"m": 2}),
]


@pytest.mark.parametrize("family, d, k, knobs", CASES, ids=[c[0] for c in CASES])
def test_auto_recovers_every_family(family, d, k, knobs):
    truth = planted.make(family, d, k, random_state=1, **knobs)
    X, y = planted.sample(truth, 30_000, random_state=2)
    net = learn(X, y, k, random_state=0)
    assert relative_error(net, truth) < RECOVERED
    assert net.k <= k


def test_auto_finds_the_vanishing_plane_where_every_moment_below_degree_4_is_zero():
    """m = 4: T2 = 0 and M4(g) sees the plane at <u, g>^2 ~ 1/d; T2 of the squared residual finds it."""
    truth = planted.make("vanishing", 60, 8, random_state=3, m=4)
    X, y = planted.sample(truth, 60_000, random_state=4)
    assert relative_error(learn(X, y, 8, random_state=0), truth) < RECOVERED
    # without it (contractions only) nothing is found at this d and n
    assert relative_error(learn(X, y, 8, random_state=0, squared_residual=False), truth) > 0.5


def test_report_is_plain_data():
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 10_000, random_state=0)
    net = learn(X, y, 2, random_state=0)
    data = json.loads(net.report.to_json())
    assert data["method"] == "auto" and data["passes"] >= 1
    assert {s["stage"] for s in data["stages"]} >= {"moments", "subspace", "neurons", "polish"}
    assert data["validation_relative"] < RECOVERED
    assert "held-out mse" in str(net.report)


def test_same_seed_same_bits():
    truth = planted.make("random", 6, 3, random_state=3)
    X, y = planted.sample(truth, 12_000, noise=0.1, random_state=3)
    a, b = learn(X, y, 3, random_state=7), learn(X, y, 3, random_state=7)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.directions, b.directions)


def test_noisy_data_close_to_noise_floor():
    truth = planted.make("random", 6, 3, random_state=4)
    X, y = planted.sample(truth, 30_000, noise=0.1, random_state=4)
    net = learn(X, y, 3, random_state=0)
    # Parametric rate: excess risk ~ (#parameters / n) * sigma^2 = (3 * 7 / 3e4) * 0.01 ~ 7e-6.
    assert relative_error(net, truth) < 1e-3


def test_constant_y_gives_constant_network_and_warning():
    X = np.random.default_rng(0).standard_normal((500, 3))
    with pytest.warns(FitWarning, match="y is constant"):
        net = learn(X, np.full(500, 2.5), 2)
    assert net.k == 0 and net.intercept == 2.5


def test_too_few_samples_warns_with_the_number_needed():
    truth = planted.make("random", 10, 2, random_state=0)
    X, y = planted.sample(truth, 200, random_state=0)
    with pytest.warns(FewSamplesWarning, match="at least 400"):
        learn(X, y, 2, random_state=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k must be an integer >= 1"),
        ({"k": 2, "method": "sgd"}, "unknown method 'sgd'"),
        ({"k": 2, "thresh": 3}, "unknown option"),
        ({"k": 2, "validation_fraction": 1.5}, "validation_fraction"),
    ],
)
def test_bad_arguments(kwargs, match):
    X = np.random.default_rng(0).standard_normal((100, 3))
    with pytest.raises(ValueError, match=match):
        learn(X, X[:, 0], **kwargs)


def test_bad_data():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((100, 3)), rng.standard_normal(100)
    with pytest.raises(ValueError, match="mismatched lengths"):
        learn(X, y[:50], 2)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at index \[3, 1\]\)"):
        learn(X, y, 2)
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        learn(rng.standard_normal((100, 3)), np.full(100, np.inf), 2)


def test_zero_network_helper():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ReLUNetwork.zero(3).predict(np.ones((2, 3))).tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "transform, match",
    [
        (lambda X: X + 0.5, "mean"),
        (lambda X: X * np.array([1.0, 2.0, 1.0]), r"covariance\[1, 1\]"),
        (lambda X: np.sqrt(3) * (2 * np.random.default_rng(1).random(X.shape) - 1), "fourth moment"),
    ],
)
def test_non_gaussian_inputs_warn(transform, match):
    X = transform(np.random.default_rng(0).standard_normal((20_000, 3)))
    with pytest.warns(NonGaussianInputWarning, match=match):
        learn(X, np.maximum(X[:, 0], 0), 1, random_state=0)


def test_gaussian_inputs_do_not_warn():
    truth = planted.make("random", 10, 2, random_state=5)
    X, y = planted.sample(truth, 20_000, random_state=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learn(X, y, 2, random_state=0)


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_auto_width_on_clear_cases(noise):
    truth = planted.make("random", 8, 3, random_state=0)
    X, y = planted.sample(truth, 30_000, noise=noise, random_state=1)
    net = learn(X, y, "auto", random_state=0)
    width = [s for s in net.report.stages if s["stage"] == "width"][0]
    assert net.k == 3 and width["chosen"] == 3 and net.report.k == 3
    assert relative_error(net, truth) < (1e-4 if noise == 0 else 1e-3)


def test_weaker_directions_are_admitted_when_none_clears_the_threshold():
    """At 25 dk rows no T2 direction of this network clears 4 noise scales, not even on the residual."""
    truth = planted.make("random", 20, 4, random_state=0)
    X, y = planted.sample(truth, 2000, random_state=1000)
    net = learn(X, y, 4, random_state=0)
    found = [s for s in net.report.stages if s["stage"] == "subspace"]
    assert found[0]["found"] == 0 and any(s["found"] and s["threshold"] == 2.0 for s in found)
    assert relative_error(net, truth) < 1e-4


def test_weaker_directions_of_a_networks_residual_are_admitted_while_dim_v_is_below_k():
    """After a network, a discovery pass finds nothing new here while dim V < k; the fill threshold does."""
    truth = planted.make("random", 10, 8, random_state=0)
    X, y = planted.sample(truth, 12_000, random_state=1)
    net = learn(X, y, 8, random_state=0)
    stages = net.report.stages
    after = stages[next(i for i, s in enumerate(stages) if s["stage"] == "neurons"):]
    assert any(s["stage"] == "subspace" and s.get("source") == "kept rows" and s["threshold"] == 2.0
               and s["found"] > 0 for s in after)
    assert relative_error(net, truth) < 1e-4


@pytest.mark.parametrize("method", ["auto", "cdgkm23", "cn24", "dk23"])
def test_no_signal_gives_the_linear_model_and_a_warning(method):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, 4))
    y = 0.5 * X[:, 0] + rng.standard_normal(5000)  # linear plus noise: no ReLU to find
    net = learn(X, y, 2, method=method, random_state=0)
    assert net.k == 0 and net.linear is not None and abs(net.linear[0] - 0.5) < 0.1
    assert any("no significant direction" in w for w in net.report.warnings)
    assert np.isfinite(net.report.validation_mse)


def test_standardize_learns_gaussian_inputs_with_mean_and_covariance():
    from narrowrelu.standardize import to_standard

    truth = planted.make("random", 6, 2, random_state=0)
    Z, y = planted.sample(truth, 40_000, random_state=1)
    rng = np.random.default_rng(3)
    A, mu = rng.standard_normal((6, 6)) + 3 * np.eye(6), 2 * rng.standard_normal(6)
    net = learn(Z @ A.T + mu, y, 2, random_state=0, standardize=True)
    assert net.biases is not None and net.report.stages[0]["stage"] == "standardize"
    # the fit as a function of z (x = A z + mu, the map by hand): exact, hidden biases included
    linear = None if net.linear is None else A.T @ net.linear
    intercept = net.intercept + (0.0 if net.linear is None else float(net.linear @ mu))
    of_z = ReLUNetwork(net.weights, net.directions @ A, linear, intercept, biases=net.biases + net.directions @ mu)
    assert relative_error(of_z, truth) < 1e-8
    back = to_standard(net, net.report.standardization["mean"], net.report.standardization["whitening"])
    # nearly bias-free again in the standardized coordinates: the biases the estimated mean leaves, O(n^-1/2)
    assert back.biases is None or np.max(np.abs(back.biases)) < 0.05


def test_standardize_refuses_collinear_features():
    X = np.random.default_rng(0).standard_normal((1000, 3))
    X[:, 2] = X[:, 0] + X[:, 1]
    with pytest.raises(ValueError, match="covariance is singular"):
        learn(X, X[:, 0] ** 2, 1, standardize=True)


def test_to_original_keeps_hidden_biases_learned_in_standardized_coordinates():
    from narrowrelu.standardize import Standardization

    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 4)) + 4 * np.eye(4)
    transform = Standardization(rng.normal(size=4), A @ A.T)
    net = ReLUNetwork(rng.normal(size=3), rng.normal(size=(3, 4)), rng.normal(size=4), 0.5, biases=rng.normal(size=3))
    X = rng.normal(size=(50, 4)) * 3
    assert np.allclose(transform.to_original(net).predict(X), net.predict(transform.transform(X)), atol=1e-12)


def test_a_tolerance_stops_the_search_once_the_held_out_loss_meets_it():
    """Noisy data are never exact, so every later pass and repair runs at tol=0; a tolerance the
    first polished fit meets stops them there: no more passes, and the returned fit meets it."""
    truth = planted.make("random", 8, 3, random_state=0)
    X, y = planted.sample(truth, 20_000, noise=0.05, random_state=1)
    exact = learn(X, y, 3, random_state=0)
    loose = learn(X, y, 3, random_state=0, tol=0.05)
    assert loose.report.validation_relative <= 0.05
    assert loose.report.passes < exact.report.passes
    with pytest.raises(ValueError, match=r"option tol must be a number >= 0 and <= 1"):
        learn(X, y, 3, tol=-1e-3)
