"""The paper-faithful methods on cases their papers cover, and their reports."""

import numpy as np
import pytest

from narrowrelu import learn, planted, relative_error

PAPER_METHODS = ["cdgkm23", "cn24", "dk23"]


@pytest.mark.parametrize("method", PAPER_METHODS)
@pytest.mark.parametrize("family, k, knobs", [("random", 3, {}), ("close-pair", 3, {"theta": 0.05, "L": 5.0})])
def test_paper_methods_recover_small_cases(method, family, k, knobs):
    truth = planted.make(family, 8, k, random_state=0, **knobs)
    X, y = planted.sample(truth, 30_000, random_state=1)
    net = learn(X, y, k, method=method, random_state=0)
    assert relative_error(net, truth) < 1e-4
    stages = [s["stage"] for s in net.report.stages if s["stage"] != "checks"]
    assert stages[:2] == ["moments", "subspace"] and "neurons" in stages and stages[-2] == "polish"
    assert next(s for s in net.report.stages if s["stage"] == "neurons")["source"] == "net"


def test_faithful_least_squares_only_is_coarser_but_close():
    """Without our refinement the final step is least squares over an eta-net: error ~ eta^2."""
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 30_000, random_state=1)
    net = learn(X, y, 2, method="cn24", random_state=0, polish=False)
    assert 1e-6 < relative_error(net, truth) < 0.1


def test_huge_net_is_refused_with_its_cost():
    truth = planted.make("random", 8, 3, random_state=0)
    X, y = planted.sample(truth, 30_000, random_state=1)
    # V has dimension r >= 2 here: an eta-net with eta = 0.1 has (2 / 0.1)^(r - 1) >= 20 points.
    with pytest.raises(ValueError, match=r"eta-net .* has about [\d,]+ points .* flops"):
        learn(X, y, 3, method="cn24", random_state=0, max_net=10)


def test_methods_are_deterministic():
    truth = planted.make("random", 6, 2, random_state=2)
    X, y = planted.sample(truth, 10_000, random_state=2)
    for method in PAPER_METHODS:
        a = learn(X, y, 2, method=method, random_state=3)
        b = learn(X, y, 2, method=method, random_state=3)
        np.testing.assert_array_equal(a.directions, b.directions)
