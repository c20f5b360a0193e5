import numpy as np
import pytest

pytest.importorskip("torch")

from narrowrelu import planted, relative_error  # noqa: E402
from narrowrelu.baselines import gradient_descent, tune_learning_rate  # noqa: E402


def test_adam_learns_an_easy_network_and_records_its_budget():
    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 8000, random_state=0)
    net = gradient_descent(X, y, 2, lr=0.03, epochs=30, restarts=2, random_state=0)
    assert relative_error(net, truth) < 0.05
    assert net.report["epochs"] == 60 and net.report["restarts"] == 2 and net.report["seconds"] > 0


def test_stop_callback_and_time_budget_end_training():
    truth = planted.make("random", 5, 2, random_state=0)
    X, y = planted.sample(truth, 4000, random_state=0)
    stopped = gradient_descent(X, y, 2, epochs=50, restarts=3, stop=lambda net: True, random_state=0)
    assert stopped.report["epochs"] == 1 and stopped.report["stopped_at_seconds"] is not None
    budget = gradient_descent(X, y, 2, epochs=10_000, restarts=3, time_budget=0.5, random_state=0)
    assert budget.report["restarts"] == 1 and budget.report["seconds"] < 5


def test_tuning_picks_the_lowest_held_out_loss():
    truth = planted.make("random", 5, 2, random_state=1)
    X, y = planted.sample(truth, 4000, random_state=1)
    lr, losses = tune_learning_rate(X, y, 2, grid=(1e-4, 3e-2), epochs=5, random_state=0)
    assert lr == min(losses, key=losses.get) and set(losses) == {1e-4, 3e-2}


def test_bad_optimizer():
    with pytest.raises(ValueError, match="optimizer must be"):
        gradient_descent(np.zeros((10, 2)), np.zeros(10), 1, optimizer="lbfgs")
