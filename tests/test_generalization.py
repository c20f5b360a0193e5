"""The generalization suite: frozen instances, knobs inside their stated ranges, composed structures, intervals."""

import json
import math

import numpy as np
import pytest

from narrowrelu.bench import generalization as g
from narrowrelu.bench.harness import TUNING_SEED, run
from narrowrelu.bench.report import generalization_rows, generalization_section

INSTANCES = 25  # per structure, for the range checks


def _instances():
    for structure in g.STRUCTURES:
        for index in range(INSTANCES):
            seed = g.seed_of(structure, index)
            yield structure, seed, g.draw(structure, seed)


def test_the_same_seed_gives_the_same_instance():
    for structure in g.STRUCTURES:
        seed = g.seed_of(structure, 3)
        first, second = g.draw(structure, seed), g.draw(structure, seed)
        assert first == second
        a, b = g.build(first, seed), g.build(second, seed)
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.directions, b.directions)
    # Different seeds give different instances.
    assert g.draw("close-pair", g.seed_of("close-pair", 0)) != g.draw("close-pair", g.seed_of("close-pair", 1))


def test_seeds_are_fresh_and_distinct():
    seeds = [seed for _, seed, _ in g.plan(30, ("auto",))]
    assert len(set(seeds)) == len(seeds) == 30 * len(g.STRUCTURES)
    assert min(seeds) >= 10_000 and TUNING_SEED not in seeds and not set(range(10)) & set(seeds)
    assert len(g.plan(None, ("auto",))) == g.DEFAULT_SEEDS * len(g.STRUCTURES)


def _check_part(family, k, params, d):
    if "weight_range" in params:
        low, high = params["weight_range"]
        assert 0.1 <= low <= 1.0 and low <= high <= 100 * low
    if family == "close-pair":
        assert 1e-3 <= params["theta"] <= 0.3 and 1.0 <= params["L"] <= 100.0
    if family == "cluster":
        assert params["m"] in range(2, 6) and 0.03 <= params["theta"] <= 0.3 and k >= params["m"]
    if family == "vanishing":
        assert params["m"] in (2, 4, 6) and k == 2 * params["m"]
    if family == "conditioned":
        assert 1.0 <= params["kappa"] <= 100.0 and k <= d
    if family == "orthonormal":
        assert params["basis"] in ("standard", "random") and 0.1 <= params["weight"] <= 10 and k <= d


def test_knobs_stay_inside_their_ranges():
    kappas, thetas = [], []
    for structure, seed, case in _instances():
        parts = g.parts_of(case)
        assert case.tag == g.TAG and case.n == g.ROWS_PER_DK * case.d * case.k
        assert case.k == sum(k for _, k, _ in parts)
        assert case.noise == {"noisy-0.1": 0.1, "noisy-0.5": 0.5}.get(structure, 0.0)
        if structure == "random-wide":
            assert 5 <= case.d <= 16 and math.ceil(case.d / 2) <= case.k <= case.d
        else:
            assert g.D_RANGE[0] <= case.d <= g.D_RANGE[1]
        if structure in ("random", "orthonormal", "conditioned", "close-pair", "cluster", "pair-and-cluster"):
            assert g.K_RANGE[0] <= case.k <= g.K_RANGE[1]
        for family, k, params in parts:
            _check_part(family, k, params, case.d)
            kappas += [params["kappa"]] if "kappa" in params else []
            thetas += [params["theta"]] if family == "close-pair" else []
        # Every knob is recorded: rebuilding from the record's JSON gives the same network.
        record = {"knobs": json.loads(json.dumps(dict(case.knobs)))}
        rebuilt = type(case)(case.family, case.d, case.k, case.n, case.noise, tuple(record["knobs"].items()), case.tag)
        np.testing.assert_array_equal(g.build(rebuilt, seed).directions, g.build(case, seed).directions)
    # The draws spread over their ranges (log-uniform: both decades' ends are reached).
    assert min(thetas) < 3e-3 and max(thetas) > 0.1 and min(kappas) < 3 and max(kappas) > 30


def test_combined_structures_have_the_stated_neurons():
    for structure, seed, case in _instances():
        parts = g.parts_of(case)
        families = [family for family, _, _ in parts]
        net = g.build(case, seed)
        assert net.k == case.k and net.d == case.d
        if structure == "two-close-pairs":
            assert families[:2] == ["close-pair", "close-pair"] and 4 <= case.k <= 8
            assert families[2:] in ([], ["random"])
        elif structure == "pair-and-cluster":
            assert families[:2] == ["close-pair", "cluster"] and case.k <= 8
        elif structure == "vanishing-and-random":
            assert families[0] == "vanishing" and families[1] == "random" and 1 <= parts[1][1] <= 4
        else:
            assert len(parts) == 1
        # Each part is the zoo's: a close pair's first two neurons are theta apart with weights +L, -L.
        start = 0
        for family, k, params in parts:
            if family == "close-pair":
                u, v = net.directions[start], net.directions[start + 1]
                assert math.isclose(math.acos(np.clip(u @ v, -1, 1)), params["theta"], rel_tol=1e-6, abs_tol=1e-7)
                np.testing.assert_allclose(net.weights[start:start + 2], [params["L"], -params["L"]])
            start += k


def test_biased_structures_have_fresh_seeds_biases_in_range_and_more_rows():
    seeds = [seed for _, seed, _ in g.plan_biased(30, ("auto",))]
    plain = {seed for _, seed, _ in g.plan(30, ("auto",))}
    assert len(set(seeds)) == len(seeds) == 30 * len(g.BIASED_STRUCTURES) and not plain & set(seeds)
    for structure in g.BIASED_STRUCTURES:
        for index in range(INSTANCES):
            seed = g.seed_of(structure, index)
            case = g.draw(structure, seed)
            (family, k, params), = g.parts_of(case)
            assert 0.5 <= params["biases"] <= 1.0 and case.n == g.BIASED_ROWS_PER_DK * case.d * case.k
            assert case.noise == {"biased-noisy-0.1": 0.1, "biased-noisy-0.5": 0.5}.get(structure, 0.0)
            if structure == "biased-wide":
                assert family == "random" and 5 <= case.d <= 10 and case.d < case.k <= 2 * case.d
            _check_part(family, k, params, case.d)
            net = g.build(case, seed)
            assert net.biases is not None and net.k == case.k and np.all(np.isfinite(net.biases))
    # bias-free instances stay bias-free (and as they were: the knobs and networks do not depend on the new ones)
    case = g.draw("random", g.seed_of("random", 0))
    assert g.build(case, g.seed_of("random", 0)).biases is None


def test_unknown_structure_is_refused():
    with pytest.raises(ValueError, match="unknown structure 'huge'"):
        g.draw("huge", 20_000)


def test_clopper_pearson_interval():
    from scipy.stats import beta

    assert g.confidence_interval(0, 10) == pytest.approx((0.0, 1 - 0.025 ** (1 / 10)))
    assert g.confidence_interval(10, 10) == pytest.approx((0.025 ** (1 / 10), 1.0))
    low, high = g.confidence_interval(7, 20)
    assert low == pytest.approx(beta.ppf(0.025, 7, 14)) and high == pytest.approx(beta.ppf(0.975, 8, 13))
    assert low < 7 / 20 < high
    # Coverage: over many binomial draws, the 95% interval holds the true rate at least 95% of the time.
    rng = np.random.default_rng(0)
    draws = rng.binomial(30, 0.9, size=400)
    covered = np.mean([lo <= 0.9 <= hi for lo, hi in (g.confidence_interval(int(x), 30) for x in draws)])
    assert covered >= 0.93  # exact intervals are conservative; 400 draws give a s.e. of about 0.011


def _record(structure, seed, error, noise=0.0, ratio=None):
    record = {"tag": g.TAG, "family": structure, "method": "auto", "seed": seed, "d": 10, "k": 3, "n": 15_000,
              "noise": noise, "knobs": {"p1_family": "close-pair", "p1_theta": 0.01}, "relative_error": error,
              "recovered": error <= 1e-4, "seconds": 1.0, "note": ""}
    return record | ({"ratio_to_oracle": ratio} if noise else {})


def test_report_gives_rates_intervals_and_every_failure_with_its_knobs():
    records = [_record("close-pair", 20_000 + i, 1e-10) for i in range(9)] + [_record("close-pair", 20_009, 3e-3)]
    records += [_record("noisy-0.5", 31_000, 1e-3, 0.5, 1.05), _record("noisy-0.5", 31_001, 1e-3, 0.5, 4.2)]
    rows = {r["structure"]: r for r in generalization_rows(records)}
    assert rows["close-pair"]["successes"] == 9 and rows["close-pair"]["trials"] == 10
    assert rows["close-pair"]["ci"] == pytest.approx(g.confidence_interval(9, 10))
    assert rows["noisy-0.5"]["successes"] == 1 and rows["noisy-0.5"]["worst"] == 4.2
    assert rows["all noiseless"]["trials"] == 10  # the noisy structures are scored apart
    text = "\n".join(generalization_section(records))
    assert "| close-pair | auto | 9/10 | 90.0% | [55.5%, 99.7%]" in text
    assert "### Failures (2)" in text and "| close-pair | 20009 |" in text and "p1_theta=0.01" in text


def test_suite_passes_options_to_learn_and_records_them(tmp_path, monkeypatch):
    tiny = {"tiny": (lambda rng: (5, [g._random_part(rng, 2)]), 0.0),
            "tiny-noisy": (lambda rng: (5, [g._random_part(rng, 2)]), 0.1)}
    monkeypatch.setattr(g, "STRUCTURES", tiny)
    results = run("generalization", tmp_path, seeds=2, options={"max_stages": 2})
    records = results["records"]
    assert len(records) == 4 and {r["family"] for r in records} == set(tiny)
    assert all(r["tag"] == g.TAG and r["knobs"]["p1_family"] == "random" for r in records)
    assert all(r["recovered"] for r in records if not r["noise"])
    assert all(r["ratio_to_oracle"] > 0 for r in records if r["noise"])
    assert results["meta"]["options"] == {"max_stages": 2}
    assert results["meta"]["command"] == "narrowrelu bench --suite generalization --seeds 2 --option max_stages=2"
    assert "Clopper–Pearson" in (tmp_path / "results.md").read_text()
    # One directory holds one set of options: resuming with others is refused.
    with pytest.raises(ValueError, match="choose another --out directory"):
        run("generalization", tmp_path, seeds=2)


def test_rows_per_dk_resizes_every_instance_and_is_recorded(tmp_path, monkeypatch):
    tiny = {"tiny": (lambda rng: (5, [g._random_part(rng, 2)]), 0.0)}
    monkeypatch.setattr(g, "STRUCTURES", tiny)
    results = run("generalization", tmp_path, seeds=1, rows_per_dk=300)
    (record,) = results["records"]
    assert record["n"] == 300 * 5 * 2 != g.ROWS_PER_DK * 5 * 2
    assert results["meta"]["command"] == "narrowrelu bench --suite generalization --seeds 1 --rows-per-dk 300"
