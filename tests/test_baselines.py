import numpy as np
import pytest

pytest.importorskip("torch")

from narrowrelu import ReLUNetwork, planted, population_mse, relative_error  # noqa: E402
from narrowrelu.baselines import gradient_descent, tune_learning_rate  # noqa: E402
from narrowrelu.report import Report  # noqa: E402


def test_adam_learns_an_easy_network_and_records_its_budget(tmp_path):
    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 8000, random_state=0)
    net = gradient_descent(X, y, 2, lr=0.03, epochs=30, restarts=2, random_state=0, biases=False)
    assert relative_error(net, truth) < 0.05 and net.biases is None
    train = net.report.stages[-1]
    assert train["epochs"] == 60 and train["restarts"] == 2 and train["seconds"] > 0
    # The old dict keys still read.
    assert net.report["epochs"] == 60 and net.report["method"] == "torch-adam" and net.report.get("nope") is None
    assert isinstance(net.report, Report) and net.report.n_train + net.report.n_validation == len(y)
    net.save(tmp_path / "adam.json")  # a Report, so the network saves and loads
    again = ReLUNetwork.load(tmp_path / "adam.json")
    assert population_mse(again, net) < 1e-20 and again.report.stages[-1]["epochs"] == 60


def test_adam_with_hidden_biases_learns_a_biased_network_and_leaves_the_global_torch_rng_alone():
    import torch

    truth = planted.make("random", 4, 2, random_state=3, biases=1.0)
    X, y = planted.sample(truth, 8000, random_state=0)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    biased = gradient_descent(X, y, 2, lr=0.03, epochs=40, restarts=2, random_state=0)
    assert torch.equal(torch.rand(3), expected)
    assert biased.biases is not None and biased.report.options["biases"] is True
    free = gradient_descent(X, y, 2, lr=0.03, epochs=40, restarts=2, random_state=0, biases=False)
    # A bias-free student cannot represent a biased teacher; the biased one can.
    assert relative_error(biased, truth) < 0.5 * relative_error(free, truth)
    again = gradient_descent(X, y, 2, lr=0.03, epochs=40, restarts=2, random_state=0)
    np.testing.assert_array_equal(again.biases, biased.biases)  # seeded: reproducible
    with pytest.raises(ValueError, match="biases=True"):
        gradient_descent(X, y, 2, epochs=1, restarts=1, init=truth, biases=False)


def test_stop_callback_and_time_budget_end_training():
    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 4000, random_state=0)
    stopped = gradient_descent(X, y, 2, epochs=50, restarts=3, stop=lambda net: True, random_state=0)
    assert stopped.report.stages[-1]["epochs"] == 1 and stopped.report.stages[-1]["stopped_at_seconds"] is not None
    budget = gradient_descent(X, y, 2, epochs=10_000, restarts=3, time_budget=0.5, random_state=0)
    assert budget.report.stages[-1]["restarts"] == 1 and budget.report.stages[-1]["seconds"] < 5


def test_tuning_picks_the_lowest_held_out_loss():
    truth = planted.make("random", 5, 2, random_state=1)
    X, y = planted.sample(truth, 4000, random_state=1)
    lr, losses = tune_learning_rate(X, y, 2, grid=(1e-4, 3e-2), epochs=5, random_state=0)
    assert lr == min(losses, key=losses.get) and set(losses) == {1e-4, 3e-2}


def test_bad_optimizer():
    with pytest.raises(ValueError, match="optimizer must be"):
        gradient_descent(np.zeros((10, 2)), np.zeros(10), 1, optimizer="lbfgs")


def test_init_starts_the_first_restart_at_the_given_network():
    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 4000, random_state=0)
    net = gradient_descent(X, y, 2, lr=1e-6, epochs=1, restarts=1, init=truth, random_state=0)
    assert relative_error(net, truth) < 1e-6  # a tiny step from the truth stays there


def test_every_baseline_fits_through_the_common_interface():
    pytest.importorskip("sklearn")
    from narrowrelu.baselines import BASELINES, monte_carlo_relative_error

    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 4000, random_state=0)
    for name, fit in BASELINES.items():
        model = fit(X, y, 2, lr=1e-2, random_state=0)
        assert isinstance(model, ReLUNetwork) and isinstance(model.report, Report), name
        error = relative_error(model, truth)
        assert np.isfinite(error) and error < 1.0, name
        mc, se = monte_carlo_relative_error(model, truth, n=100_000, random_state=1)
        # the exact error is what Monte Carlo estimates (to 5 standard errors, above float64 rounding:
        # an exact fit, as Adam's can be here, leaves both near 1e-15)
        assert abs(mc - error) < 5 * se + 1e-14, name


def test_mlp_network_predicts_what_scikit_learn_predicts():
    pytest.importorskip("sklearn")
    from sklearn.neural_network import MLPRegressor

    from narrowrelu.baselines import mlp

    truth = planted.make("random", 4, 3, random_state=0, biases=1.0)
    X, y = planted.sample(truth, 3000, random_state=0)
    net = mlp(X, y, 3, max_iter=200, random_state=5)
    seed = int(np.random.default_rng(5).integers(2**31))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(3,), activation="relu", solver="lbfgs", max_iter=200,
                             early_stopping=False, random_state=seed).fit(X, y)
    np.testing.assert_allclose(net.predict(X), model.predict(X), rtol=1e-10, atol=1e-10)
    assert net.biases is not None and net.report.method == "mlp-lbfgs"


def test_tensor_initialisation_finds_the_directions_of_an_easy_network():
    from narrowrelu.baselines import tensor_initialisation
    from narrowrelu.metrics import recovery_report

    truth = planted.make("orthonormal", 6, 3, random_state=0)
    X, y = planted.sample(truth, 200_000, random_state=1)
    assert recovery_report(tensor_initialisation(X, y, 3, random_state=0), truth).max_angle < 0.2


def test_population_loss_and_gradient_are_exact():
    from narrowrelu.baselines import population_loss
    from narrowrelu.baselines.population_gd import population_gradient

    rng = np.random.default_rng(0)
    V, W = np.eye(5), rng.standard_normal((4, 5))
    half_mse = 0.5 * population_mse(ReLUNetwork(np.ones(4), W), ReLUNetwork(np.ones(5), V))
    assert population_loss(W, V) == pytest.approx(half_mse, rel=1e-12)
    grad, eps = population_gradient(W, V), 1e-6
    for i, j in np.ndindex(W.shape):
        E = np.zeros_like(W)
        E[i, j] = eps
        central = (population_loss(W + E, V) - population_loss(W - E, V)) / (2 * eps)
        assert central == pytest.approx(grad[i, j], abs=1e-8)


def test_population_gradient_descent_small_k_always_succeeds():
    from narrowrelu.baselines import population_gradient_descent

    # Safran and Shamir: no spurious minima were hit for k <= 5 (0.3% at k = 6).
    result = population_gradient_descent(np.eye(4), runs=50, random_state=0)
    assert result["converged"].all() and not result["spurious"].any()
    assert result["loss"].max() < 1e-12


def test_degree_2_moment_equals_statsmodels_principal_hessian_directions():
    statsmodels = pytest.importorskip("statsmodels.regression.dimred")
    from narrowrelu import moments

    truth = planted.make("random", 6, 3, random_state=0)
    X, y = planted.sample(truth, 5000, random_state=1)
    # Whiten the sample exactly (mean 0, X^T X / n = I): then PHD's E[(y - ybar) x x^T] is T2.
    X = X - X.mean(axis=0)
    X = X @ np.linalg.inv(np.linalg.cholesky(X.T @ X / len(X))).T
    T2 = moments.low_degree(X, y).T2
    phd = statsmodels.PrincipalHessianDirections(y, X).fit()
    n = len(y)
    ours = np.linalg.eigvalsh(T2)
    np.testing.assert_allclose(np.sort(np.real(phd.eigs)) * n / (n - 1), ours, rtol=1e-9, atol=1e-12)
    top = np.real(phd.params[:, :3])
    Q = np.linalg.eigh(T2)[1][:, np.argsort(-np.abs(ours))[:3]]
    np.testing.assert_allclose(top @ np.linalg.pinv(top), Q @ Q.T, atol=1e-8)


def test_population_loss_and_gradient_with_biases_are_exact():
    from narrowrelu.baselines import population_loss
    from narrowrelu.baselines.population_gd import population_gradient

    rng = np.random.default_rng(1)
    V, W = np.hstack([np.eye(4), rng.standard_normal((4, 1))]), rng.standard_normal((3, 5))  # rows (w, p)
    student = ReLUNetwork(np.ones(3), W[:, :4], biases=W[:, 4])
    half_mse = 0.5 * population_mse(student, ReLUNetwork(np.ones(4), V[:, :4], biases=V[:, 4]))
    assert population_loss(W, V, biases=True) == pytest.approx(half_mse, rel=1e-12)
    grad, eps = population_gradient(W, V, biases=True), 1e-6
    for i, j in np.ndindex(W.shape):
        E = np.zeros_like(W)
        E[i, j] = eps
        central = (population_loss(W + E, V, biases=True) - population_loss(W - E, V, biases=True)) / (2 * eps)
        assert central == pytest.approx(grad[i, j], abs=1e-8)
    # Zero biases: the bias-free loss and gradient.
    W0, V0 = np.hstack([W[:, :4], np.zeros((3, 1))]), np.hstack([np.eye(4), np.zeros((4, 1))])
    free = population_gradient(W[:, :4], np.eye(4))
    np.testing.assert_allclose(population_gradient(W0, V0, biases=True)[:, :4], free, atol=1e-14)
    assert population_loss(W0, V0, biases=True) == pytest.approx(population_loss(W[:, :4], np.eye(4)), abs=1e-14)


def test_population_gradient_descent_with_biases_recovers_a_small_biased_target():
    from narrowrelu.baselines import population_gradient_descent

    V = np.array([[1.0, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, -0.3]])  # two neurons of R^3 with biases 0.5, -0.3
    result = population_gradient_descent(V, runs=5, max_iter=4000, biases=True, random_state=0)
    assert result["converged"].all() and result["loss"].max() < 1e-12 and result["d"] == 3
