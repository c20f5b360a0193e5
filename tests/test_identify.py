"""identify: exact identification of one-hidden-layer ReLU networks from queries, and honest refusals."""

import numpy as np
import pytest

from narrowrelu import ReLUNetwork, identify
from narrowrelu._identify import IdentifyReport
from narrowrelu.exceptions import FitWarning
from narrowrelu.network import angles_between


def _network(d, k, seed, biases=True, scale=0.5):
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((k, d))
    b = scale * rng.standard_normal(k) * np.linalg.norm(U, axis=1) if biases else None
    return ReLUNetwork(rng.standard_normal(k), U, biases=b)


def _worst(net, truth):
    """Worst angle between matched (u_i, b_i) up to positive scale, and worst relative weight error."""
    lift = lambda n: np.hstack([n.directions, (n.biases if n.biases is not None else np.zeros(n.k))[:, None]])  # noqa: E731
    angles = angles_between(lift(truth), lift(net))
    match = angles.argmin(axis=1)
    assert len(set(match)) == truth.k
    return angles.min(axis=1).max(), np.max(np.abs(net.weights[match] - truth.weights) / np.abs(truth.weights))


@pytest.mark.parametrize("d, k, biases", [(8, 3, True), (6, 6, False), (6, 6, True), (5, 12, True), (4, 10, False)])
def test_exact_identification(d, k, biases):
    truth = _network(d, k, seed=d * k, biases=biases)
    queries = []

    def forward(X):
        queries.append(len(X))
        return truth.predict(X)

    net = identify(forward, d=d, random_state=1)
    angle, weight = _worst(net, truth)
    assert net.k == k and net.linear is None
    assert angle < 1e-9 and weight < 1e-9
    X = np.random.default_rng(5).standard_normal((500, d))
    np.testing.assert_allclose(net.predict(X), truth.predict(X), rtol=1e-9, atol=1e-9)
    stage = net.report.stages[0]
    assert stage["queries"] == sum(queries) == net.report.n_samples
    assert stage["units"] == k and stage["lines"] >= 8 and stage["prediction_error"] < 1e-9


def test_dead_and_always_active_units_are_reported():
    rng = np.random.default_rng(0)
    U = rng.standard_normal((4, 5))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    truth = ReLUNetwork([1.0, -1.5, 2.0, 0.7], U, biases=[0.2, -0.4, -8.0, 8.0])  # unit 2 dead, unit 3 always on
    net = identify(truth.predict, d=5, random_state=0)
    stage = net.report.stages[0]
    assert net.k == 4 and net.linear is None
    assert [net.biases[i] for i in stage["dead"]] == pytest.approx([-8.0])
    assert [net.biases[i] for i in stage["always_active"]] == pytest.approx([8.0])
    assert _worst(net, truth)[0] < 1e-8


def test_a_linear_term_is_kept_when_signs_cannot_be_resolved():
    truth = _network(5, 3, seed=2)
    truth.linear = np.array([0.3, -0.2, 0.1, 0.0, 0.5])
    with pytest.warns(FitWarning, match="signs are not resolved"):
        net = identify(truth.predict, d=5, random_state=0)
    assert net.linear is not None and net.k == 3
    X = np.random.default_rng(1).standard_normal((200, 5))
    np.testing.assert_allclose(net.predict(X), truth.predict(X), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("d, k, seed", [(8, 4, 4), (6, 6, 5), (6, 8, 4), (5, 12, 7), (8, 20, 1)])
def test_float32_oracle_reaches_1e_5_and_says_so(d, k, seed):
    truth = _network(d, k, seed=seed)
    U, b, w = (np.asarray(a, np.float32) for a in (truth.directions, truth.biases, truth.weights))
    net = identify(lambda X: np.maximum(X.astype(np.float32) @ U.T + b, 0) @ w, d=d, random_state=0)
    angle, weight = _worst(net, truth)
    assert angle < 1e-5 and weight < 1e-5
    stage = net.report.stages[0]
    assert stage["dtype"] == "float32" and 1e-9 < stage["prediction_error"] < 1e-4


def test_torch_module_and_onnx_file(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    truth = _network(5, 7, seed=6)
    for model in (truth.to_torch(), str(truth.to_onnx(tmp_path / "m.onnx"))):
        net = identify(model, random_state=0)  # d from the model
        assert net.d == 5 and _worst(net, truth)[0] < 1e-9
    path = truth.to_onnx(tmp_path / "m32.onnx", dtype=np.float32)
    saved = path.read_bytes()
    rounded = ReLUNetwork(*(a.astype(np.float32).astype(float) for a in (truth.weights, truth.directions)),
                          biases=truth.biases.astype(np.float32).astype(float))
    net = identify(str(path), random_state=0)  # a float64 copy in memory: the float32 weights' function, exactly
    stage = net.report.stages[0]
    assert (stage["dtype"], stage["model_dtype"]) == ("float64", "float32") and _worst(net, rounded)[0] < 1e-9
    assert path.read_bytes() == saved
    net = identify(str(path), random_state=0, precision="model")
    assert net.report.stages[0]["dtype"] == "float32" and _worst(net, truth)[0] < 1e-4


def test_an_onnx_graph_with_other_operators_is_queried_in_float32_with_a_note(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from narrowrelu import oracles

    monkeypatch.setattr(oracles, "_ONNX_DOUBLE_OPS", oracles._ONNX_DOUBLE_OPS - {"Relu"})
    truth = _network(4, 3, seed=1)
    net = identify(str(truth.to_onnx(tmp_path / "m32.onnx", dtype=np.float32)), random_state=0)
    stage = net.report.stages[0]
    assert stage["dtype"] == "float32" and "Relu" in stage["oracle_note"] and _worst(net, truth)[0] < 1e-4


def test_deeper_other_activation_and_noisy_models_are_refused():
    rng = np.random.default_rng(0)
    W1, W2, w3 = rng.standard_normal((8, 6)), rng.standard_normal((5, 8)), rng.standard_normal(5)
    deep = lambda X: np.maximum(np.maximum(X @ W1.T + 0.1, 0) @ W2.T - 0.2, 0) @ w3  # noqa: E731
    with pytest.raises(ValueError, match="consistent hyperplanes|residual"):
        identify(deep, d=6, random_state=0)
    with pytest.raises(ValueError, match="not piecewise linear"):
        identify(lambda X: np.tanh(X @ W1.T) @ W2[0], d=6, random_state=0)
    noisy = lambda X: np.maximum(X @ W1.T, 0) @ W2[0] + 1e-6 * rng.standard_normal(len(X))  # noqa: E731
    with pytest.raises(ValueError, match="not deterministic"):
        identify(noisy, d=6, random_state=0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="d is required"):
        identify(lambda X: X.sum(axis=1))
    with pytest.raises(ValueError, match="tol must be"):
        identify(lambda X: X.sum(axis=1), d=2, tol=-1.0)
    with pytest.raises(ValueError, match="module:function"):
        identify("not a model", d=2)


def test_linear_model_and_saved_report(tmp_path):
    with pytest.warns(FitWarning, match="linear term"):
        net = identify(lambda X: X @ np.arange(3.0) + 1.0, d=3, random_state=0)
    assert net.k == 0 and net.linear is not None
    np.testing.assert_allclose(net.linear, [0, 1, 2], atol=1e-12)
    truth = _network(4, 3, seed=1)
    net = identify(truth.predict, d=4, random_state=0)
    net.save(tmp_path / "m.json")
    again = ReLUNetwork.load(tmp_path / "m.json")
    assert again.report.stages[0]["units"] == 3 and "identify" in str(net.report)
    assert isinstance(again.report, IdentifyReport) and str(again.report) == str(net.report)


def test_command_line_identify_and_fit_on_a_model_file(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from narrowrelu.cli import main

    truth = _network(4, 3, seed=9)
    onnx = str(truth.to_onnx(tmp_path / "teacher.onnx"))
    assert main(["identify", onnx, "--seed", "0", "-o", str(tmp_path / "id.json")]) == 0
    assert "narrowrelu identify: 3 units" in capsys.readouterr().out
    assert _worst(ReLUNetwork.load(tmp_path / "id.json"), truth)[0] < 1e-9
    truth = _network(4, 2, seed=3, biases=False)
    onnx = str(truth.to_onnx(tmp_path / "plain.onnx"))
    assert main(["fit", onnx, "--n", "20000", "--k", "2", "--seed", "0", "-o", str(tmp_path / "fit.json")]) == 0
    assert ReLUNetwork.load(tmp_path / "fit.json").report.options["queries"] >= 20000
    assert main(["identify", "no_such_module:f", "--d", "2", "-o", str(tmp_path / "x.json")]) == 2
    assert "cannot import" in capsys.readouterr().err
    for command in (["identify", onnx], ["fit", onnx, "--n", "100", "--k", "1"]):
        assert main(command + ["--precision", "double", "-o", str(tmp_path / "p.json")]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and "'--precision'" in error[0] and "float64" in error[0]
    single = str(truth.to_onnx(tmp_path / "single.onnx", dtype=np.float32))
    for precision, queried in (("float64", "float64"), ("model", "float32")):
        assert main(["identify", single, "--precision", precision, "--seed", "0", "-o",
                     str(tmp_path / f"{precision}.json")]) == 0
        assert f"oracle queried in {queried} (model float32)" in capsys.readouterr().out


def test_queries_bench_records_and_tables(tmp_path):
    from narrowrelu.bench.queries import QueryCase, run

    cases = [QueryCase(4, 3, learn=True, seeds=1, tag="tiny"), QueryCase(4, 2, biases=False, learn=True, seeds=1),
             QueryCase(4, 4, dtype="float32", seeds=1, first_seed=12, tag="float32 draw, k = d")]
    results = run(tmp_path, {"suite": "queries"}, cases=cases)
    by = {(r["k"], r["method"]): r for r in results["records"]}
    assert by[3, "identify"]["worst_angle"] < 1e-9 and by[3, "identify"]["queries_to_exact"] > 0
    assert by[2, "learn"]["queries_to_target"] is not None and by[2, "learn"]["error_kind"] == "exact"
    assert by[4, "identify"]["seed"] == 12 and by[4, "identify"]["rounding_ratio"] < 64
    table = (tmp_path / "results.md").read_text()
    assert "identify against learn" in table and "| float32 draw, k = d | 1 | 1 | 1 | 0 |" in table
    again = run(tmp_path, {"suite": "queries"}, cases=cases)  # resumed: nothing is run twice
    assert len(again["records"]) == 5


def _float32_torch(truth):
    import torch

    layers = torch.nn.Sequential(torch.nn.Linear(truth.d, truth.k), torch.nn.ReLU(), torch.nn.Linear(truth.k, 1))
    with torch.no_grad():  # float32, torch's default: the function its rounded weights define
        layers[0].weight.copy_(torch.from_numpy(truth.directions))
        layers[0].bias.copy_(torch.from_numpy(truth.biases))
        layers[2].weight.copy_(torch.from_numpy(truth.weights[None, :]))
        layers[2].bias.zero_()
    rounded = ReLUNetwork(layers[2].weight.detach().double().numpy()[0], layers[0].weight.detach().double().numpy(),
                          biases=layers[0].bias.detach().double().numpy())
    return layers, rounded


def test_float32_torch_module_is_queried_through_a_float64_copy():
    torch = pytest.importorskip("torch")
    module, rounded = _float32_torch(_network(5, 15, seed=3))  # k = 3d, biases
    before = [p.detach().clone() for p in module.parameters()]
    net = identify(module, random_state=0)
    stage = net.report.stages[0]
    assert stage["dtype"] == "float64" and stage["model_dtype"] == "float32" and stage["oracle_note"] is None
    angle, weight = _worst(net, rounded)
    assert net.k == 15 and angle < 1e-9 and weight < 1e-9
    assert all(p.dtype == torch.float32 and torch.equal(p, q) for p, q in zip(module.parameters(), before,
                                                                               strict=True))
    small, rounded = _float32_torch(_network(4, 3, seed=1))
    net = identify(small, random_state=0, precision="model")  # the module's own float32
    assert net.report.stages[0]["dtype"] == "float32" and _worst(net, rounded)[0] < 1e-4


def test_a_module_that_cannot_run_in_float64_falls_back_with_a_note():
    torch = pytest.importorskip("torch")
    module, rounded = _float32_torch(_network(4, 3, seed=1))

    class Float32Only(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = module

        def forward(self, x):
            return self.inner(x.float())  # casts its input: its float64 copy answers float32

    net = identify(Float32Only(), random_state=0)
    stage = net.report.stages[0]
    assert stage["dtype"] == "float32" and "float64 copy could not" in stage["oracle_note"]
    assert "note:" in str(net.report) and _worst(net, rounded)[0] < 1e-4
    with pytest.raises(ValueError, match="precision must be"):
        identify(module, precision="double")


def _float32(truth):
    U, b, w = (np.asarray(a, np.float32) for a in (truth.directions, truth.biases, truth.weights))
    return lambda X: np.maximum(X.astype(np.float32) @ U.T + b, 0) @ w


@pytest.mark.parametrize("weight", [2e-4, 1e-3])
def test_float32_unit_too_small_for_the_search_is_found_by_the_hunt(weight):
    truth = _network(5, 6, seed=2)
    truth.weights[0] = weight  # a slope jump 1/3000 to 1/600 of the others': the kink search misses it
    net = identify(_float32(truth), d=5, random_state=0)
    stage = net.report.stages[0]
    assert net.k == 6 and stage["hunted_units"] >= 1 and net.linear is None
    angle, _ = _worst(net, truth)
    assert angle < 1e-3 and stage["prediction_error"] < 2 * stage["oracle_rounding"]


def test_float32_unit_below_the_hunt_is_warned_about():
    truth = _network(5, 6, seed=2)
    truth.weights[0] = 5e-5  # ten thousand times below the others: neither the search nor the hunt sees it
    with pytest.warns(FitWarning, match=r"times the oracle's rounding .* may be missing"):
        net = identify(_float32(truth), d=5, random_state=0)
    stage = net.report.stages[0]
    assert net.k == 5 and 2 < stage["prediction_error"] / stage["oracle_rounding"] < 64


def test_float32_residual_far_above_the_rounding_is_refused(monkeypatch):
    from narrowrelu import _identify

    monkeypatch.setattr(_identify, "HUNT_ROUNDS", 0)  # no hunt: the unit the search misses stays missing
    truth = _network(5, 6, seed=2)
    truth.weights[0] = 1e-3  # slope jump too small to be seen in float32; missing it leaves a residual below tol
    forward = _float32(truth)
    with pytest.raises(ValueError, match=r"times the oracle's rounding.*5 units identified"):
        identify(forward, d=5, random_state=0)
    with pytest.warns(FitWarning, match="times the oracle's rounding"):  # an explicit tol is the only bound
        net = identify(forward, d=5, random_state=0, tol=1e-3)
    assert net.k == 5 and net.report.stages[0]["prediction_error"] > 64 * net.report.stages[0]["oracle_rounding"]


def test_float32_above_the_polish_limit_is_refused_naming_it(monkeypatch):
    from narrowrelu import _identify

    wide = ReLUNetwork([1.0], np.ones((1, 500)) / np.sqrt(500), biases=[0.5])
    with pytest.raises(ValueError, match=r"d=500 and one unit or more has 1002 unknowns, above the 1000"):
        identify(_float32(wide), d=500, random_state=0)
    monkeypatch.setattr(_identify, "POLISH_MAX_UNKNOWNS", 30)
    forward = _float32(_network(4, 6, seed=1))
    with pytest.raises(ValueError, match=r"6 units in d=4 has 35 unknowns, above the 30.*precision='float64'"):
        identify(forward, d=4, random_state=0)
    with pytest.warns(FitWarning, match="35 unknowns"):
        net = identify(forward, d=4, random_state=0, tol=1e-2)
    assert net.k == 6


def test_trained_torch_network_live_units_recovered_and_dead_ones_reported():
    torch = pytest.importorskip("torch")
    from narrowrelu.bench.queries import QueryCase, trained_network, trained_record

    case = QueryCase(12, 20, seeds=1, trained=True)
    module, _, training = trained_network(case, seed=0, rows=2048, epochs=20)  # 320 Adam steps
    assert training["train_mse"] < 0.5  # trained: the teacher's variance is 1
    with torch.no_grad():  # a unit dead for N(0, I) inputs, as training leaves some: 6 sigma out, inactive side
        module[0].bias[3] = -6 * module[0].weight[3].norm()
    W, beta, a = (p.detach().double().numpy() for p in (module[0].weight, module[0].bias, module[2].weight[0]))
    net = identify(module, random_state=1)
    stage = net.report.stages[0]
    angle, weight = _worst(net, ReLUNetwork(a, W, biases=beta))
    assert net.k == 20 and angle < 1e-9 and weight < 1e-9
    lift = lambda U, b: np.hstack([U, b[:, None]])  # noqa: E731
    match = angles_between(lift(W, beta), lift(net.directions, net.biases)).argmin(axis=1)
    assert stage["dead"] == [int(match[3])] and stage["always_active"] == []
    record = trained_record(case, 0)  # the benchmark's record: the module as trained, compared over its live units
    assert record["live_true"] + record["dead_true"] + record["always_active_true"] == 20
    assert record["missing_live"] == 0 and record["worst_parameter"] < 1e-9 and record["prediction"] < 1e-12
