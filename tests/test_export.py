"""Exports: torch module and ONNX model predict what the network predicts."""

import numpy as np
import pytest

from narrowrelu import ReLUNetwork, planted

NETWORKS = {
    "pure": planted.make("random", 5, 3, random_state=0),
    "linear term": ReLUNetwork([1.0, -2.0], np.eye(2, 5), linear=np.arange(5.0), intercept=0.3),
    "no neurons": ReLUNetwork(np.zeros(0), np.zeros((0, 5)), linear=np.ones(5), intercept=-1.0),
    "hidden biases": planted.make("cluster", 5, 4, random_state=0, biases=1.0),
}


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((200, 5))


@pytest.mark.parametrize("name", list(NETWORKS))
def test_torch_module_matches_predict(name, X):
    torch = pytest.importorskip("torch")
    net = NETWORKS[name]
    module = net.to_torch()
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(X)).numpy(), net.predict(X), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-6), (np.float32, 1e-4)])
def test_onnx_model_matches_predict(name, dtype, tol, X, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    net = NETWORKS[name]
    net.to_onnx(tmp_path / "m.onnx", dtype=dtype)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (predicted,) = session.run(None, {"x": X.astype(dtype)})
    assert predicted.shape == (len(X),)
    np.testing.assert_allclose(predicted, net.predict(X), atol=tol, rtol=tol)
