import numpy as np
import pytest

from narrowrelu import ReLUNetwork, planted, population_mse, relative_error
from narrowrelu.polish import (
    COARSE_ROWS,
    COARSE_STRIDE,
    linear_as_pair,
    output_layer,
    refine,
    resolve_signs,
    to_network,
)


def test_resolve_signs_absorbs_a_linear_term_made_by_flips():
    truth = planted.make("random", 6, 3, random_state=0)
    # relu(t) = relu(-t) + t: flip neuron 1 and carry its linear part explicitly
    flipped_dirs = truth.directions * np.array([1.0, -1.0, 1.0])[:, None]
    written = ReLUNetwork(truth.weights, flipped_dirs, linear=truth.weights[1] * truth.directions[1])
    assert population_mse(written, truth) < 1e-12
    resolved, remainder = resolve_signs(written)
    assert remainder < 1e-12
    resolved.linear = None
    assert population_mse(resolved, truth) < 1e-12


def test_linear_as_pair_keeps_the_function_when_two_neurons_are_spare():
    # |t| written as 2 relu(t) - t, with two spare (zero-weight) neurons: no flip removes -t.
    rng = np.random.default_rng(1)
    u = rng.standard_normal(5)
    u /= np.linalg.norm(u)
    spare = rng.standard_normal((2, 5))
    written = ReLUNetwork([2.0, 1e-9, -1e-9], np.vstack([u, spare]), linear=-u)
    assert resolve_signs(written)[1] > 0.5
    paired = linear_as_pair(written)
    assert paired.linear is None and paired.k == 3
    absolute = ReLUNetwork([1.0, 1.0], np.vstack([u, -u]))
    assert population_mse(paired, absolute) < 1e-16


def test_refine_coarse_to_fine_reaches_the_truth_on_noiseless_rows():
    truth = planted.make("random", 10, 3, random_state=2)
    X, y = planted.sample(truth, COARSE_STRIDE**2 * COARSE_ROWS, random_state=3)  # three levels
    start = truth.directions + 0.05 * np.random.default_rng(4).standard_normal(truth.directions.shape)
    U, fit = refine(X, y, start, None, max_iter=300)
    assert relative_error(to_network(U, fit, None, 10), truth) < 1e-10
    np.testing.assert_allclose(output_layer(X, y, U).weights, fit.weights)


def test_levenberg_marquardt_takes_over_where_lbfgs_stalls_on_a_cluster():
    from narrowrelu.polish import _minimize

    truth = planted.make("cluster", 20, 6, random_state=1)  # three neurons 0.1 rad apart
    X, y = planted.sample(truth, 20_000, random_state=2)
    start = truth.directions + 0.05 * np.random.default_rng(0).standard_normal(truth.directions.shape)
    U, converged = _minimize(X, y, None, start / np.linalg.norm(start, axis=1, keepdims=True), 100, 1e-12)
    assert not converged and relative_error(to_network(U, output_layer(X, y, U), None, 20), truth) > 1e-8
    U, fit = refine(X, y, start, None, max_iter=100)  # the same L-BFGS, then Levenberg-Marquardt
    assert relative_error(to_network(U, fit, None, 20), truth) < 1e-10


def test_refine_does_not_depend_on_the_number_of_cores(monkeypatch):
    from narrowrelu import polish

    truth = planted.make("random", 10, 3, random_state=0)
    X, y = planted.sample(truth, 250_000, noise=0.1, random_state=1)  # 2.5e6 entries: three row blocks
    start = truth.directions + 0.05 * np.random.default_rng(2).standard_normal(truth.directions.shape)
    results = []
    for cores in (1, 2, 5):
        monkeypatch.setattr(polish, "default_n_jobs", lambda cores=cores: cores)
        results.append(refine(X, y, start, max_iter=20)[0])
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_resolve_signs_matches_the_exhaustive_search_over_every_flip():
    rng = np.random.default_rng(0)
    for k in (1, 3, 7):
        net = ReLUNetwork(rng.normal(size=k), rng.normal(size=(k, 5)), rng.normal(size=5))
        flipped, remainder = resolve_signs(net)
        contrib = net.weights[:, None] * net.directions
        masks = ((np.arange(2**k)[:, None] >> np.arange(k)) & 1).astype(float)
        best = np.min(np.linalg.norm(net.linear + masks @ contrib, axis=1))
        assert remainder == pytest.approx(best, rel=1e-12, abs=1e-12)
        x = rng.standard_normal((100, 5))
        np.testing.assert_allclose(flipped.predict(x), net.predict(x), atol=1e-10)


def test_levenberg_marquardt_follows_an_aborted_line_search(monkeypatch):
    """scipy's status 2 (ABNORMAL_TERMINATION_IN_LNSRCH) is not convergence: LM must run."""
    from narrowrelu import polish

    calls = []
    real = polish.minimize

    def aborted(*args, **kwargs):
        result = real(*args, **kwargs)
        result.status = 2
        return result

    monkeypatch.setattr(polish, "minimize", aborted)
    monkeypatch.setattr(polish, "_levenberg_marquardt", lambda X, y, XV, U, steps: calls.append(steps) or U)
    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 5_000, random_state=1)
    refine(X, y, truth.directions, max_iter=5)
    assert calls == [polish.LM_STEPS]
