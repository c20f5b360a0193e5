"""Typed method options: defaults, ranges, refusals, and the switches of auto's mechanisms."""

import dataclasses
import json
import warnings

import numpy as np
import pytest

from narrowrelu import learn, planted, relative_error
from narrowrelu.exceptions import FitWarning
from narrowrelu.methods import METHODS
from narrowrelu.options import AutoOptions, CDGKM23Options, CN24Options, DK23Options, FitOptions

#: The values every option had as a plain dict before options were typed (auto's, then each paper method's).
AUTO_BEFORE = {
    "threshold": 4.0, "fill_threshold": 2.0, "max_stages": 4, "contractions_inside": 4, "contractions_outside": 16,
    "degrees": (4,), "squared_residual": True, "candidates": "moments", "contractions": 6,
    "net_eta": 0.1, "max_net": 100_000, "fit_rows": 40_000, "select_rows": 10_000,
    "polish": True, "step_iter": 25, "refine_iter": 150, "polish_rows": 400_000, "polish_iter": 400,
    "collapse_tol": 0.0,
}
SWITCHES = {"kept_row_discovery": False, "squared_residual": False, "weaker_fills": False,
            "close_pair_repair": False, "levenberg_marquardt": False, "contractions_inside": 0, "max_stages": 0}


def test_defaults_are_the_constants_of_before():
    auto = dataclasses.asdict(AutoOptions())
    assert {name: auto[name] for name in AUTO_BEFORE} == AUTO_BEFORE
    assert CN24Options().degrees == (4, 6) and CN24Options().contractions_outside == 8
    assert DK23Options().contractions_outside == 6 and DK23Options().candidates == "net"
    cdg = CDGKM23Options().resolved()  # the scales and the eta-net derived from the default epsilon
    assert CN24Options().eta == DK23Options().eta == cdg.net_eta == 0.1
    assert (cdg.threshold, cdg.max_stages, cdg.min_threshold, cdg.shrink, cdg.scale, cdg.max_degree) == (
        6.0, 6, 3.0, 0.75, 0.5, 8)


def test_methods_map_to_their_options_class():
    assert {name: cls for name, (_, cls) in METHODS.items()} == {
        "auto": AutoOptions, "cdgkm23": CDGKM23Options, "cn24": CN24Options, "dk23": DK23Options}


@pytest.mark.parametrize("cls", [AutoOptions, CN24Options, DK23Options, CDGKM23Options])
def test_every_field_is_documented_with_what_it_accepts(cls):
    for f in dataclasses.fields(cls):
        assert f.metadata["doc"] and f.metadata["check"].accepts
        assert f"{f.name} : " in cls.__doc__


@pytest.mark.parametrize("kwargs, match", [
    ({"fit_rows": 0}, r"option fit_rows must be an integer >= 1, got 0"),
    ({"threshold": "abc"}, r"option threshold must be a number > 0, got 'abc'"),
    ({"threshold": -1.0}, r"option threshold must be a number > 0"),
    ({"threshold": float("nan")}, r"option threshold"),
    ({"degrees": 4}, r"option degrees must be a non-empty list of even integers >= 4"),
    ({"degrees": (4, 5)}, r"option degrees"),
    ({"degrees": ()}, r"option degrees"),
    ({"polish": "maybe"}, r"option polish must be true or false, got 'maybe'"),
    ({"polish": 1}, r"option polish must be true or false"),
    ({"candidates": "grid"}, r"option candidates must be one of 'moments', 'net'"),
    ({"net_eta": 3.0}, r"option net_eta must be a number > 0 and <= 2"),
    ({"max_stages": 1.5}, r"option max_stages must be an integer >= 0"),
    ({"collapse_tol": -0.1}, r"option collapse_tol must be a number >= 0"),
])
def test_a_wrong_value_names_the_option_and_what_it_accepts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AutoOptions(**kwargs)


def test_values_are_normalised_and_frozen():
    options = AutoOptions(degrees=[4, 6], threshold=3, max_stages=np.int64(2))
    assert options.degrees == (4, 6) and isinstance(options.threshold, float) and type(options.max_stages) is int
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.threshold = 1.0


@pytest.fixture(scope="module")
def sample():
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 20_000, random_state=1)
    return truth, X, y


@pytest.mark.parametrize("method, option", [("cn24", "fill_threshold"), ("dk23", "contractions_inside"),
                                            ("cdgkm23", "degrees"), ("cn24", "close_pair_repair"),
                                            ("auto", "min_threshold"), ("auto", "restarts"),
                                            ("auto", "neighbours")])
def test_a_method_refuses_options_it_does_not_use(sample, method, option):
    _, X, y = sample
    with pytest.raises(ValueError, match=rf"unknown option\(s\) {option} for method '{method}'; it accepts"):
        learn(X, y, 2, method=method, **{option: 1})


def test_an_options_object_of_another_method_is_refused(sample):
    _, X, y = sample
    with pytest.raises(ValueError, match="method 'cn24' takes CN24Options, got AutoOptions"):
        learn(X, y, 2, method="cn24", options=AutoOptions())


def test_options_object_and_keywords_give_the_same_bits_and_the_report_stores_plain_data(sample):
    _, X, y = sample
    a = learn(X, y, 2, random_state=0, max_stages=2, degrees=[4, 6])
    b = learn(X, y, 2, random_state=0, options=AutoOptions(max_stages=2, degrees=(4, 6)))
    c = learn(X, y, 2, random_state=0, options=AutoOptions(max_stages=5), max_stages=2, degrees=(4, 6))
    np.testing.assert_array_equal(a.directions, b.directions)
    np.testing.assert_array_equal(a.directions, c.directions)
    stored = json.loads(a.report.to_json())["options"]
    assert stored["max_stages"] == 2 and stored["degrees"] == [4, 6] and stored["close_pair_repair"] is True
    assert set(dataclasses.asdict(AutoOptions())) <= set(stored)


def test_every_mechanism_of_auto_can_be_switched_off(sample):
    truth, X, y = sample
    for name, value in SWITCHES.items():
        net = learn(X, y, 2, random_state=0, **{name: value})
        assert relative_error(net, truth) < 1e-4, name
        assert net.report.options[name] == value
    net = learn(X, y, 2, random_state=0, **SWITCHES)
    assert relative_error(net, truth) < 1e-4


def test_switched_off_mechanisms_do_not_run():
    truth = planted.make("close-pair", 8, 3, random_state=0, theta=0.05, L=5.0)
    X, y = planted.sample(truth, 30_000, noise=0.2, random_state=1)  # noisy: never exact, every step runs
    on = learn(X, y, 3, random_state=0)
    off = learn(X, y, 3, random_state=0, close_pair_repair=False, kept_row_discovery=False)
    assert any(s.get("repair") == "close pair" for s in on.report.stages)
    assert not any(s.get("repair") == "close pair" for s in off.report.stages)
    assert any(s.get("source") == "kept rows" and s["threshold"] == 4.0 for s in on.report.stages)
    assert not any(s.get("source") == "kept rows" and s["threshold"] == 4.0 for s in off.report.stages)


def test_fit_options_are_the_shared_part_of_every_method():
    shared = {f.name for f in dataclasses.fields(FitOptions)}
    for _, cls in METHODS.values():
        assert shared <= {f.name for f in dataclasses.fields(cls)}
    auto_only = {"fill_threshold", "squared_residual", "kept_row_discovery", "weaker_fills",
                 "close_pair_repair", "degree3_dims", "whole_space_refits"}
    for cls in (CN24Options, DK23Options, CDGKM23Options):
        assert not auto_only & {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("method", ["dk23", "cdgkm23", "auto"])
def test_more_neurons_than_dimensions_works_when_v_is_all_of_rd(method):
    truth = planted.make("random", 2, 3, random_state=0)
    X, y = planted.sample(truth, 20_000, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        net = learn(X, y, 3, method=method, random_state=0)
    assert np.all(np.isfinite(net.directions)) and np.isfinite(net.report.validation_mse)
    assert np.mean((net.predict(X) - y) ** 2) < 0.05 * np.var(y)


@pytest.mark.parametrize("method", ["auto", "cn24"])
def test_the_linear_fallback_is_a_fit_warning(method):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, 4))
    y = 0.5 * X[:, 0] + rng.standard_normal(5000)
    with pytest.warns(FitWarning, match="no significant direction"):
        net = learn(X, y, 2, method=method, random_state=0)
    assert net.k == 0


def test_without_biases_the_subspace_never_exceeds_k():
    """Whitened inputs leave small biases that the bias-free fit cannot explain: V stays at k
    (V beyond k was removed; the warning for it is tested in test_selection)."""
    truth = planted.make("random", 6, 2, random_state=0)
    Z, y = planted.sample(truth, 40_000, random_state=1)
    rng = np.random.default_rng(3)
    A, mu = rng.standard_normal((6, 6)) + 3 * np.eye(6), 2 * rng.standard_normal(6)
    with pytest.warns(FitWarning, match="degree-3 signal") as caught:
        net = learn(Z @ A.T + mu, y, 2, random_state=0, standardize=True, biases=False)
    assert not any("subspace grew" in str(w.message) for w in caught)
    assert max(s.get("subspace_dim", 0) for s in net.report.stages) <= 2
