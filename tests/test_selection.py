"""The selection rules, and the keep-best property of ``learn``."""

import numpy as np
import pytest

from narrowrelu import learn, planted
from narrowrelu.exceptions import FitWarning
from narrowrelu.methods import auto as auto_module
from narrowrelu.methods import cn24 as cn24_module
from narrowrelu.network import ReLUNetwork
from narrowrelu.selection import (
    AGREE,
    EXACT,
    LINEAR_GAIN,
    Candidate,
    chosen_width,
    is_exact,
    keep_best,
    linear_wins,
    no_worse,
    validation_mse,
    width_search_done,
)

NET = ReLUNetwork(np.ones(1), np.eye(2)[:1])


def candidate(loss, variance=1.0, origin=""):
    return Candidate(NET, loss, variance, origin)


def test_keep_best_replaces_only_on_a_strictly_lower_loss():
    a, b, c = candidate(1.0, origin="a"), candidate(1.0, origin="b"), candidate(0.5, origin="c")
    assert keep_best(None, a) is a and keep_best(a, None) is a and keep_best(None, None) is None
    assert keep_best(a, b) is a  # a tie keeps the incumbent
    assert keep_best(a, c) is c and keep_best(c, a) is c


def test_the_rules_at_their_boundaries():
    assert is_exact(candidate(EXACT * 2.0, variance=2.0)) and not is_exact(candidate(EXACT * 2.1, variance=2.0))
    assert is_exact(candidate(1e-3), tol=1e-3) and not is_exact(candidate(1.1e-3), tol=1e-3)  # a user's tolerance
    assert is_exact(candidate(EXACT), tol=0.0) and not is_exact(candidate(2 * EXACT), tol=1e-9)  # never below EXACT
    assert no_worse(0.1, 1.0) and no_worse(1.0 + AGREE / 2, 1.0) and not no_worse(1.0 + 2 * AGREE, 1.0)
    assert not linear_wins(1 + LINEAR_GAIN / 2, 1.0, 0.0) and linear_wins(1 + 2 * LINEAR_GAIN, 1.0, 0.0)
    assert not linear_wins(1.0 + EXACT, 1.0 / (1 + LINEAR_GAIN), 1.0)  # within the exact floor


def test_width_rules():
    assert not width_search_done([1.0], 1.0)
    assert not width_search_done([1.0, 0.5], 1.0)  # improved by more than the tolerance: go on
    assert width_search_done([1.0, 0.995], 1.0)  # not by more than 1%: stop
    assert width_search_done([1.0, EXACT / 2], 1.0)  # exact: stop
    assert chosen_width([1.0, 0.5, 0.499], 1.0) == 1  # the smallest within 1% of the best
    assert chosen_width([1.0, 0.5, 0.1], 1.0) == 2


CASES = [  # (family, d, k, knobs, noise, seed): noisy or hard, so that auto polishes more than once
    ("random", 6, 3, {}, 0.3, 0),
    ("random", 6, 3, {}, 0.3, 1),
    ("close-pair", 6, 3, {"theta": 0.05, "L": 5.0}, 0.1, 0),
    ("cluster", 6, 4, {}, 0.2, 2),
    ("conditioned", 8, 4, {"kappa": 30.0}, 0.5, 3),
    ("vanishing", 6, 4, {}, 0.2, 4),
]


@pytest.mark.parametrize("family, d, k, knobs, noise, seed", CASES)
def test_learn_never_returns_worse_than_a_network_it_polished(monkeypatch, family, d, k, knobs, noise, seed):
    """Every network the polish (stage D) or the repair produced is at least as bad, on the held-out
    rows, as the one ``learn`` returns."""
    polished, seen = [], {}

    def watch(stage):
        def wrapped(data, *args, **kwargs):
            result = stage(data, *args, **kwargs)
            seen["data"] = data
            polished.append(result.loss)
            assert result.loss == validation_mse(result.network, data)
            return result
        return wrapped

    monkeypatch.setattr(auto_module, "finish", watch(auto_module.finish))
    monkeypatch.setattr(auto_module, "repair_close_pair", watch(auto_module.repair_close_pair))
    truth = planted.make(family, d, k, random_state=seed, **knobs)
    X, y = planted.sample(truth, 20_000, noise=noise, random_state=seed + 1)
    net = learn(X, y, k, random_state=seed)
    assert polished
    final = validation_mse(net, seen["data"])
    assert final == net.report.validation_mse
    assert final <= min(polished)


def test_a_paper_method_returns_its_polished_network(monkeypatch):
    losses, original = [], cn24_module.finish

    def watch(data, *args, **kwargs):
        result = original(data, *args, **kwargs)
        losses.append(result.loss)
        return result

    monkeypatch.setattr(cn24_module, "finish", watch)
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 20_000, noise=0.2, random_state=1)
    net = learn(X, y, 2, method="cn24", random_state=0)
    assert losses == [net.report.validation_mse]


def test_a_later_worse_polish_does_not_replace_the_best(monkeypatch):
    """Force the outer loop: discovery always adds a direction (so auto fits and polishes again)
    and every polish after the first comes back worse; the first must be returned."""
    from scipy.linalg import null_space

    from narrowrelu.selection import evaluate

    returned, original = [], auto_module.finish

    def grow(data, state, *args):
        return state.V if state.V.shape[1] >= data.d else np.hstack([state.V, null_space(state.V.T)[:, :1]])

    def worse_after_the_first(data, *args, **kwargs):
        result = original(data, *args, **kwargs)
        if returned:
            net = result.network
            result = evaluate(ReLUNetwork(0.8 * net.weights, net.directions, net.linear, net.intercept), data)
        returned.append(result.loss)
        return result

    monkeypatch.setattr(auto_module, "_discover_on_residual", grow)
    monkeypatch.setattr(auto_module, "finish", worse_after_the_first)
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 20_000, noise=0.3, random_state=1)
    with pytest.warns(FitWarning, match="subspace grew"):
        net = learn(X, y, 2, random_state=0, close_pair_repair=False)
    assert len(returned) >= 3 and min(returned[1:]) > returned[0]
    assert net.report.validation_mse == returned[0]
