import json

import numpy as np
import pytest

from narrowrelu import ReLUNetwork, planted, population_mse


def test_attributes_and_rescaling():
    net = ReLUNetwork([1.0, -2.0], [[3.0, 4.0], [0.0, 0.5]], linear=[1.0, 0.0], intercept=2.0)
    assert net.k == 2 and net.d == 2
    np.testing.assert_allclose(net.weights, [5.0, -1.0])
    np.testing.assert_allclose(np.linalg.norm(net.directions, axis=1), 1.0)
    X = np.array([[1.0, 1.0], [-1.0, 2.0]])
    expected = np.maximum(X @ [[3.0, 0.0], [4.0, 0.5]], 0) @ [1.0, -2.0] + X[:, 0] + 2.0
    np.testing.assert_allclose(net.predict(X), expected)


def test_save_load_round_trip(tmp_path):
    net = ReLUNetwork([1.0, -2.0], [[3.0, 4.0], [0.0, 0.5]], linear=[1.0, 0.0], intercept=2.0)
    path = tmp_path / "model.json"
    net.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "narrowrelu.ReLUNetwork" and data["version"] == 2 and "biases" not in data
    again = ReLUNetwork.load(path)
    version_1 = ReLUNetwork.from_dict(data | {"version": 1})  # files written before hidden biases existed
    assert population_mse(net, version_1) == 0.0
    assert population_mse(net, again) == 0.0
    np.testing.assert_array_equal(again.linear, net.linear)
    empty = ReLUNetwork.from_dict(ReLUNetwork.zero(3).to_dict())
    assert empty.k == 0 and empty.d == 3


@pytest.mark.parametrize(
    "args, match",
    [
        (([1.0], [[1.0, 0.0], [0.0, 1.0]]), "one weight per direction"),
        (([1.0], [1.0, 0.0]), "directions must be a 2-dimensional"),
        (([np.nan], [[1.0, 0.0]]), "weights contains NaN"),
        (([1.0], [[0.0, 0.0]]), "row 0 is zero"),
        (([1.0], [[1.0, 0.0]], [1.0]), "linear must have length d=2"),
        (([1.0], [[1.0, 0.0]], None, float("inf")), "intercept must be a finite"),
    ],
)
def test_bad_construction(args, match):
    with pytest.raises(ValueError, match=match):
        ReLUNetwork(*args)


def test_bad_predict_and_load(tmp_path):
    net = planted.make("random", 4, 2, random_state=0)
    with pytest.raises(ValueError, match="X must have 4 columns"):
        net.predict(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="X contains NaN"):
        net.predict(np.full((1, 4), np.nan))
    with pytest.raises(ValueError, match="does not exist"):
        ReLUNetwork.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        ReLUNetwork.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="version"):
        ReLUNetwork.from_dict(net.to_dict() | {"version": 99})
    with pytest.raises(ValueError, match="not a narrowrelu network"):
        ReLUNetwork.from_dict({"weights": []})
    with pytest.raises(ValueError, match="tol"):
        net.collapse(-1.0)


def test_hidden_biases_predict_round_trip_and_export(tmp_path):
    net = ReLUNetwork([1.0, -2.0], [[2.0, 0.0], [0.0, 1.0]], biases=[1.0, -0.5], intercept=0.25)
    X = np.array([[0.1, 0.2], [-1.0, 3.0]])
    expected = 1.0 * np.maximum(2 * X[:, 0] + 1.0, 0) - 2.0 * np.maximum(X[:, 1] - 0.5, 0) + 0.25
    np.testing.assert_allclose(net.predict(X), expected)
    net.save(tmp_path / "b.json")
    np.testing.assert_allclose(ReLUNetwork.load(tmp_path / "b.json").predict(X), expected)
    np.testing.assert_allclose(net.collapse(0.1).predict(X), expected)  # far apart: nothing merges
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(net.to_torch()(torch.from_numpy(X)).detach().numpy(), expected, atol=1e-12)
    ort = pytest.importorskip("onnxruntime")
    net.to_onnx(tmp_path / "b.onnx")
    np.testing.assert_allclose(ort.InferenceSession(str(tmp_path / "b.onnx")).run(None, {"x": X})[0], expected)


def test_a_report_with_keys_this_version_does_not_know_still_loads(tmp_path):
    from narrowrelu.report import Report

    net = ReLUNetwork([1.0], [[1.0, 0.0]])
    net.report = Report(method="auto", n_samples=10, n_train=8, n_validation=2, d=2, k=1)
    data = net.to_dict()
    data["report"]["from_a_newer_version"] = {"anything": 1}
    loaded = ReLUNetwork.from_dict(data)
    assert loaded.report.method == "auto" and loaded.report.n_train == 8
