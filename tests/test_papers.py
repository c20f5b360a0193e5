"""The paper methods as epsilon-learners: the accuracy option, the eta-net it sets, the net in blocks."""

import numpy as np
import pytest

from narrowrelu import learn, planted, relative_error
from narrowrelu.neurons import greedy_select, net_size, sphere_net
from narrowrelu.options import DEFAULT_EPSILON, CDGKM23Options, CN24Options, DK23Options
from narrowrelu.polish import refine

PAPER_OPTIONS = [CN24Options, DK23Options, CDGKM23Options]


@pytest.mark.parametrize("cls", PAPER_OPTIONS)
def test_epsilon_is_accepted_and_range_checked(cls):
    assert cls().epsilon == DEFAULT_EPSILON and cls(epsilon=0.01).epsilon == 0.01
    for bad in (0, -1e-3, 1.5, "small", True, float("nan")):
        with pytest.raises(ValueError, match=r"option epsilon must be a number > 0 and <= 1"):
            cls(epsilon=bad)
    with pytest.raises(ValueError, match=r"option net_eta must be a number > 0 and <= 2, or None"):
        cls(net_eta=0.0)


def test_auto_refuses_epsilon():
    X, y = planted.sample(planted.make("random", 4, 2, random_state=0), 2000, random_state=1)
    with pytest.raises(ValueError, match=r"unknown option\(s\) epsilon for method 'auto'"):
        learn(X, y, 2, epsilon=0.01)


@pytest.mark.parametrize("cls", PAPER_OPTIONS)
def test_epsilon_sets_the_eta_net_unless_net_eta_is_given(cls):
    assert cls().eta == 0.1  # the spacing of before, at the default epsilon
    assert cls(epsilon=0.16).eta == pytest.approx(0.2)
    assert cls(epsilon=0.16, net_eta=0.3).eta == 0.3
    assert cls(epsilon=0.16).resolved().net_eta == pytest.approx(0.2)


def test_cdgkm23_scales_reach_the_nets_spacing():
    assert CDGKM23Options().scales == 6  # as before: max_stages was 6
    for epsilon in (1e-1, 1e-2, 1e-3, 1e-4):
        options = CDGKM23Options(epsilon=epsilon)
        S = options.scales
        assert options.scale * options.shrink ** S <= options.eta * (1 + 1e-9)
        assert S == 1 or options.scale * options.shrink ** (S - 1) > options.eta
    assert CDGKM23Options(epsilon=1e-4, max_stages=2).scales == 2
    with pytest.raises(ValueError, match="shrink=1 .* give max_stages"):
        CDGKM23Options(shrink=1.0)
    assert CDGKM23Options(shrink=1.0, max_stages=3).resolved().max_stages == 3


@pytest.mark.parametrize("method", ["cn24", "dk23", "cdgkm23"])
def test_the_net_searched_is_the_one_epsilon_sets(method):
    truth = planted.make("random", 8, 3, random_state=0)
    X, y = planted.sample(truth, 30_000, random_state=1)
    net = learn(X, y, 3, method=method, random_state=0, epsilon=0.16)
    neurons = next(s for s in net.report.stages if s["stage"] == "neurons")
    assert neurons["candidates"] == net_size(neurons["subspace_dim"], np.sqrt(0.16) / 2)
    assert relative_error(net, truth) < 1e-4  # the polish (ours) goes beyond epsilon
    assert net.report.options["epsilon"] == 0.16


@pytest.mark.parametrize("r", [2, 3, 4])
def test_the_net_covers_the_sphere_to_within_about_pi_over_2_eta(r):
    """What the epsilon -> eta rule of the options assumes: 99% of unit vectors are within (pi/2) eta of a
    net point, so the nearest one costs at most ~0.9 epsilon of a neuron's variance (collapse lemma)."""
    rng = np.random.default_rng(r)
    eta = 0.2
    net = sphere_net(r, net_size(r, eta), rng)
    probes = rng.standard_normal((3000, r))
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    angle = np.arccos(np.clip((probes @ net.T).max(axis=1), -1.0, 1.0))
    cover = np.quantile(angle, 0.99)
    assert cover <= np.pi / 2 * eta and angle.max() <= 2 * eta
    cost = cover**2 / (1 - 1 / np.pi)  # relative to Var relu(<u, x>), for small angles
    assert cost <= 0.91 * (2 * eta) ** 2  # epsilon = (2 eta)^2


@pytest.mark.parametrize("step_iter", [0, 5])
def test_greedy_selection_in_blocks_equals_the_whole_net(step_iter):
    rng = np.random.default_rng(0)
    r, k = 3, 3
    U_true = sphere_net(r, 7)[[0, 2, 5]]
    Z = rng.standard_normal((3000, r))
    y = np.maximum(Z @ U_true.T, 0.0) @ np.array([1.0, -0.7, 1.3])
    pool = sphere_net(r, 900)
    whole = greedy_select(Z, y, pool, k, step_iter=step_iter, refine=refine)  # 900 <= CANDIDATE_BLOCK: at once
    for block in (64, 100, 899):
        blocked = greedy_select(Z, y, pool, k, step_iter=step_iter, refine=refine, block=block)
        np.testing.assert_allclose(blocked, whole, rtol=0, atol=1e-10)


def test_blocked_net_gives_the_same_network_as_the_whole_net(monkeypatch):
    """The whole fit of a paper method with the net in blocks of 7 equals the fit with the net at once."""
    import narrowrelu.neurons as neurons

    truth = planted.make("random", 6, 3, random_state=3)
    X, y = planted.sample(truth, 20_000, random_state=4)
    nets = []
    for block in (10**9, 7):
        monkeypatch.setattr(neurons, "CANDIDATE_BLOCK", block)
        monkeypatch.setattr(neurons.greedy_select, "__kwdefaults__",
                            neurons.greedy_select.__kwdefaults__ | {"block": block})
        nets.append(learn(X, y, 3, method="cn24", random_state=0, polish=False))
    np.testing.assert_allclose(nets[1].directions, nets[0].directions, atol=1e-10)
    np.testing.assert_allclose(nets[1].weights, nets[0].weights, rtol=1e-8, atol=1e-10)



@pytest.mark.parametrize("method", ["cn24", "dk23", "cdgkm23"])
def test_a_weak_neuron_t2_misses_is_found_on_the_residual_of_q_v(method):
    """Two weak neurons beside a strong one: pass 1 finds one direction; the later pass must find the
    others in T2 of y - q_V (with the whole T2 subtracted, cn24 and dk23 stopped at 9e-3 here)."""
    truth = planted.make("random", 8, 3, random_state=0, weight_range=(0.3, 3.0))
    X, y = planted.sample(truth, 12_000, random_state=1)
    net = learn(X, y, 3, method=method, random_state=0, epsilon=0.16)
    first = next(s for s in net.report.stages if s["stage"] == "subspace")
    neurons = next(s for s in net.report.stages if s["stage"] == "neurons")
    assert first["found"] < 3 and neurons["subspace_dim"] == 3
    assert relative_error(net, truth) < 1e-4
