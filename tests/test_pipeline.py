"""The shared stages on hand-made situations the end-to-end tests reach only at large sizes."""

import numpy as np

from narrowrelu import planted, relative_error
from narrowrelu.engines import Engine
from narrowrelu.options import AutoOptions
from narrowrelu.pipeline import scan
from narrowrelu.polish import refine, to_network
from narrowrelu.repairs import repair_close_pair
from narrowrelu.report import Report
from narrowrelu.selection import evaluate
from narrowrelu.sources import open_source


def _data(X, y):
    """Pass 1 of ``learn`` on (X, y): the split, the kept rows, and an empty report."""
    report = Report(method="auto", n_samples=len(y), n_train=0, n_validation=0, d=X.shape[1], k=3)
    return scan(open_source(X, y), 0.2, Engine("numpy"), report), report


def test_close_pair_repair_leaves_the_local_minimum_where_two_weak_neurons_mimic_the_pair():
    truth = planted.make("close-pair", 10, 3, random_state=0)  # +-10 at angle 1e-2, and one more neuron
    X, y = planted.sample(truth, 40_000, random_state=1)
    data, report = _data(X, y)
    # The stuck state seen at d = 100, k = 14: the pair's plane holds two far-apart, weak neurons.
    a, b = truth.directions[:2]
    b = (b - (b @ a) * a) / np.linalg.norm(b - (b @ a) * a)
    start = np.vstack([truth.directions[2], -0.85 * a + 0.5 * b, 0.7 * a - 0.7 * b])
    stuck = evaluate(to_network(*refine(data.X, data.y, start, max_iter=400), None, 10), data)
    assert relative_error(stuck.network, truth) > 1e-3  # refinement alone does not leave it
    repaired = repair_close_pair(data, stuck, np.random.default_rng(0), AutoOptions(), report)
    assert relative_error(repaired.network, truth) < 1e-8
    assert repaired.loss < stuck.loss
    assert repaired.loss == np.mean((repaired.network.predict(data.X_val) - data.y_val) ** 2)


def test_close_pair_repair_keeps_a_network_it_cannot_improve():
    truth = planted.make("random", 10, 3, random_state=0)
    X, y = planted.sample(truth, 20_000, noise=0.3, random_state=1)
    data, report = _data(X, y)
    net = evaluate(to_network(*refine(data.X, data.y, truth.directions, max_iter=400), None, 10), data)
    assert repair_close_pair(data, net, np.random.default_rng(0), AutoOptions(), report) is net
