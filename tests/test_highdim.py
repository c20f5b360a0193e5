"""High dimension: the public contraction kernel, the outside-contraction bound, its option."""

import numpy as np
import pytest

from narrowrelu import learn, moments, planted
from narrowrelu.highdim import outside_signal_to_noise, outside_visible
from narrowrelu.metrics import relative_error
from narrowrelu.options import AutoOptions


@pytest.fixture(scope="module")
def sample():
    truth = planted.make("random", 12, 3, random_state=3)
    X, y = planted.sample(truth, 20_000, random_state=4)
    return X, y


def test_signed_gram_equals_direct_sum(sample, rng):
    X, _ = sample
    w = rng.standard_normal(len(X))
    direct = np.einsum("n,ni,nj->ij", w, X, X)
    np.testing.assert_allclose(moments.signed_gram(X, w), direct, rtol=0, atol=1e-9 * np.abs(direct).max())


@pytest.mark.parametrize("degree", [2, 4, 6])
def test_public_contraction_equals_the_engine_estimate(sample, rng, degree):
    """The one-pass kernel gives the estimate of the engine's passes (residualised for degree >= 4)."""
    X, y = sample
    g = rng.standard_normal(X.shape[1])
    g /= np.linalg.norm(g)
    residual = moments.low_degree(X, y).quadratic_model() if degree >= 4 else None
    spec = moments.MomentSpec(d=X.shape[1], degrees=(degree,), directions=g[None], residual=residual)
    engine = moments.finalize(moments.accumulate(X, y, spec), spec).M[0, 0]
    estimate = moments.contraction(X, y, g, degree)
    np.testing.assert_allclose(estimate, engine, rtol=0, atol=1e-10 * np.abs(engine).max())
    np.testing.assert_allclose(estimate, estimate.T, rtol=0, atol=1e-14 * np.abs(engine).max())


def test_outside_bound_falls_with_dimension():
    """The bound of narrowrelu.highdim is above threshold at small d and below it at d = 400 (pass 1 of
    48 000 rows), and nothing is computed below high_dim_features."""
    ratios = {}
    for d in (10, 400):
        truth = planted.make("random", d, 4, random_state=0)
        X, y = planted.sample(truth, 48_000 if d > 10 else 20_000, random_state=1)
        low = moments.low_degree(X, y)
        ratios[d] = outside_signal_to_noise(low, d, 4, 4, 16)
        assert outside_visible(low, d, 4, (4,), 16, 4.0, high_dim_features=d + 1) == (True, None)
    assert ratios[10] > 4.0 > ratios[400]


def test_forced_high_dim_path_recovers_the_planted_network():
    """high_dim_features=1 engages the prediction at d = 120: the contractions in R^d are dropped (bound
    below threshold) and the planted network is still recovered exactly."""
    truth = planted.make("random", 120, 3, random_state=1)
    X, y = planted.sample(truth, 24_000, random_state=2)
    net = learn(X, y, k=3, random_state=0, high_dim_features=1)
    dropped = [s for s in net.report.stages if "outside_dropped" in s]
    assert dropped and all(s["outside_signal_to_noise_bound"] < s["threshold"] for s in dropped)
    assert relative_error(net, truth) < 1e-4
    cosines = np.abs(net.directions @ truth.directions.T).max(axis=0)
    assert np.all(cosines > 1 - 1e-4)


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "256"])
def test_high_dim_features_option_is_validated(value):
    with pytest.raises(ValueError, match="option high_dim_features must be an integer >= 1"):
        AutoOptions(high_dim_features=value)
    with pytest.raises(ValueError, match="high_dim_features"):
        learn(np.zeros((10, 2)), np.zeros(10), k=1, high_dim_features=value)


def test_bench_prints_gram_pass_ratios(capsys):
    import json

    from narrowrelu.bench import highdim

    highdim.main(["kernel", "--d", "6", "--n", "3000"])
    kernel = json.loads(capsys.readouterr().out)
    assert kernel["degree2"]["ratio_to_gram"] > 0 and kernel["degree4"]["seconds"] > 0
    highdim.main(["fit", "--d", "6", "--n", "6000", "--k", "2", "--options", '{"high_dim_features": 1}'])
    fit = json.loads(capsys.readouterr().out)
    assert fit["relative_error"] < 1e-4 and fit["moment_passes"] >= 1 and fit["gram_passes"] > 0
