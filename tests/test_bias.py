"""Hidden biases: Hermite coefficients, the exact metric, recovery by (u, b), the zoo, files and exports."""

import hashlib
import json
import math

import numpy as np
import pytest
from conftest import Z
from scipy.integrate import quad
from scipy.stats import norm

from narrowrelu import ReLUNetwork, planted, population_mse, relative_error
from narrowrelu.hermite import (
    biased_relu_coefficient,
    hermite,
    network_contraction,
    network_moment,
    relu_coefficient,
)
from narrowrelu.metrics import (
    recovery_report,
    relu_gram,
    relu_kernel,
    relu_linear_moment,
    relu_mean,
    relu_pair_moment,
    second_moment,
    variance,
)

density = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731


def biased_network(rng, k, d, scale=1.0, linear=True):
    return ReLUNetwork(rng.standard_normal(k), rng.standard_normal((k, d)),
                       rng.standard_normal(d) if linear else None, float(rng.standard_normal()),
                       biases=scale * rng.standard_normal(k))


# --- Hermite coefficients of relu(z + b) ----------------------------------------------------------------------


@pytest.mark.parametrize("b", [-3.0, -0.8, 0.0, 0.5, 2.5])
@pytest.mark.parametrize("n", range(9))
def test_biased_coefficients_against_quadrature(n, b):
    exact = quad(lambda z: (z + b) * float(hermite(n, z)) * density(z), -b, 40, epsabs=1e-13, limit=200)[0]
    assert float(biased_relu_coefficient(n, b)) == pytest.approx(exact, abs=1e-10)


@pytest.mark.parametrize("b", [-1.2, 0.7])
@pytest.mark.parametrize("n", range(6))
def test_biased_coefficients_monte_carlo(n, b, rng):
    z = rng.standard_normal(400_000)
    terms = np.maximum(z + b, 0) * hermite(n, z)
    assert abs(terms.mean() - float(biased_relu_coefficient(n, b))) < Z * terms.std() / math.sqrt(len(z))


def test_biased_coefficients_reduce_to_the_bias_free_ones_and_their_sign_convention():
    for n in range(12):
        assert float(biased_relu_coefficient(n, 0.0)) == pytest.approx(relu_coefficient(n), rel=1e-15, abs=1e-16)
    b = np.linspace(-2, 2, 9)
    # c_3(b) / c_2(b) = -b: the degree-3 moment sees the bias with the opposite sign.
    np.testing.assert_allclose(biased_relu_coefficient(3, b), -b * biased_relu_coefficient(2, b), atol=1e-16)
    with pytest.raises(ValueError, match="n must be"):
        biased_relu_coefficient(-1, 0.0)


def _hermite_tensor(X, n):
    """Tensor Hermite polynomials He_n(x) of the rows of X, n <= 3, shape (N,) + (d,)*n."""
    eye = np.eye(X.shape[1])
    if n == 0:
        return np.ones(len(X))
    if n == 1:
        return X
    if n == 2:
        return X[:, :, None] * X[:, None, :] - eye
    outer = X[:, :, None, None] * X[:, None, :, None] * X[:, None, None, :]
    return outer - (np.einsum("ni,jk->nijk", X, eye) + np.einsum("nj,ik->nijk", X, eye)
                    + np.einsum("nk,ij->nijk", X, eye))


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_network_moment_monte_carlo(n, rng):
    """T_n = sum_i lambda_i |u_i| c_n(b_i/|u_i|) u_i^(x)n, entrywise within Z standard errors (no linear part)."""
    d, N = 3, 300_000
    w, b = np.array([1.0, -1.5, 0.7]), np.array([0.4, -1.0, 1.5])
    U = rng.standard_normal((3, d)) * [[1.0], [2.0], [0.5]]  # rows of several norms
    X = rng.standard_normal((N, d))
    y = np.maximum(X @ U.T + b, 0) @ w
    terms = y.reshape((N,) + (1,) * n) * _hermite_tensor(X, n)
    se = terms.std(axis=0) / math.sqrt(N)
    assert np.all(np.abs(terms.mean(axis=0) - network_moment(w, U, b, n)) < Z * se + 1e-12)


def test_hermite_moments_and_contractions_of_a_biased_network(rng):
    net = biased_network(rng, 4, 3)
    T0, T1, T2 = net.hermite_moments()
    w, U, beta = net.weights, net.directions, net.biases
    assert T0 == pytest.approx(float(network_moment(w, U, beta, 0)) + net.intercept, rel=1e-14)
    np.testing.assert_allclose(T1, network_moment(w, U, beta, 1) + net.linear, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(T2, network_moment(w, U, beta, 2), rtol=1e-13, atol=1e-15)
    # T0, T1 are the mean and E[f x]: check them against Monte Carlo too (linear part and intercept included).
    X = rng.standard_normal((400_000, 3))
    y = net.predict(X)
    assert abs(y.mean() - T0) < Z * y.std() / math.sqrt(len(y))
    t1 = y[:, None] * X
    assert np.all(np.abs(t1.mean(0) - T1) < Z * t1.std(0) / math.sqrt(len(y)))
    g = rng.standard_normal(3)
    g /= np.linalg.norm(g)
    for n in (3, 4):
        full = network_moment(w, U, beta, n)
        np.testing.assert_allclose(network_contraction(w, U, beta, n, g),
                                   np.tensordot(full, np.ones(1) * g, axes=([0], [0])) if n == 3
                                   else np.einsum("ijkl,i,j->kl", full, g, g), atol=1e-14)
    # A bias-free network has the same moments through both paths.
    free = ReLUNetwork(w, U)
    zero = ReLUNetwork(w, U, biases=np.zeros(4))
    for a, b in zip(free.hermite_moments(), zero.hermite_moments(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=1e-16)
    with pytest.raises(ValueError, match="n must be"):
        network_contraction(w, U, beta, 1, g)


# --- the exact metric ------------------------------------------------------------------------------------------


def _pair_quadrature(theta, p, q):
    """E[relu(X + p) relu(Y + q)], corr(X, Y) = cos(theta), by 2-D quadrature (x outer, z inner)."""
    rho, s = math.cos(theta), math.sin(theta)

    def inner(x):
        if s < 1e-12:
            return max(rho * x + q, 0.0)
        lo = -(rho * x + q) / s  # relu(rho x + s z + q) > 0 for z > lo
        if lo > 40:
            return 0.0
        return quad(lambda z: (rho * x + s * z + q) * density(z), max(lo, -40), 40, epsabs=1e-14)[0]

    points = sorted({-p + 1e-12} | ({-q / rho} if abs(rho) > 1e-9 and -q / rho > -p else set()))
    return quad(lambda x: (x + p) * density(x) * inner(x), -p, max(-p, 0) + 40, points=points[1:] or None,
                epsabs=1e-13, limit=400)[0]


@pytest.mark.parametrize("theta, p, q", [(0.0, 0.3, -0.4), (math.pi, 0.8, 0.5), (math.pi, -0.8, 0.5),
                                         (1e-7, 1.0, 1.0), (0.7, 0.0, 0.0), (math.pi / 2, 1.5, -2.0),
                                         (2.2, -1.3, 0.4), (0.4, -2.5, 3.0), (3.0, 2.0, 2.0)])
def test_pair_moment_against_two_dimensional_quadrature(theta, p, q):
    assert float(relu_pair_moment(theta, p, q)) == pytest.approx(_pair_quadrature(theta, p, q), rel=1e-9, abs=1e-13)


def test_pair_moment_reduces_to_the_arc_cosine_kernel_and_limits():
    theta = np.linspace(0, math.pi, 50)
    np.testing.assert_allclose(relu_pair_moment(theta, 0.0, 0.0), relu_kernel(theta), rtol=0, atol=2e-16)
    # Parallel: E[relu(z+p) relu(z+q)] = (1+pq) Phi(min) + max phi(min), continuous in theta.
    for p, q in [(0.3, -0.4), (1.0, 1.0), (-2.0, 5.0)]:
        assert float(relu_pair_moment(1e-9, p, q)) == pytest.approx(float(relu_pair_moment(0.0, p, q)), abs=1e-8)
        assert float(relu_pair_moment(math.pi - 1e-9, p, q)) == pytest.approx(
            float(relu_pair_moment(math.pi, p, q)), abs=1e-8)
    # Huge biases: the units are linear or dead on the data.
    assert float(relu_pair_moment(0.9, 1e3, 2e3)) == pytest.approx(math.cos(0.9) + 2e6, rel=1e-15)
    assert float(relu_pair_moment(0.9, -1e3, 2e3)) == 0.0
    assert float(relu_mean(1e3)) == 1e3 and float(relu_mean(-1e3)) == 0.0


def test_gram_with_zero_norm_and_scaled_rows(rng):
    A, p = np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([0.7, -1.0])
    B, q = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([0.2, -0.3])
    K = relu_gram(A, p, B, q)
    assert K[0, 0] == pytest.approx(0.7 * float(relu_mean(0.2)), rel=1e-15)  # relu(0.7) E relu(x1 + 0.2)
    assert K[0, 1] == 0.0 and K[1, 1] == 0.0  # relu(-0.3) = 0
    assert K[1, 0] == pytest.approx(5 * float(relu_pair_moment(math.acos(0.6), -0.2, 0.2)), rel=1e-14)
    X = rng.standard_normal((400_000, 2))
    terms = np.maximum(X @ A[1] + p[1], 0) * np.maximum(X @ B[0] + q[0], 0)
    assert abs(terms.mean() - K[1, 0]) < Z * terms.std() / math.sqrt(len(X))
    # E[relu(<a, x> + p) <c, x>] = Phi(p / |a|) <a, c>: zero for a = 0.
    np.testing.assert_allclose(relu_linear_moment(A, p, B), [[0.0, 0.0], [3 * norm.cdf(-0.2), 0.0]], rtol=1e-14)
    linear = np.maximum(X @ A[1] + p[1], 0) * X[:, 0]
    assert abs(linear.mean() - 3 * norm.cdf(-0.2)) < Z * linear.std() / math.sqrt(len(X))


def test_population_mse_with_biases_against_monte_carlo(rng):
    a, b = biased_network(rng, 4, 5), biased_network(rng, 3, 5, scale=2.0)
    X = rng.standard_normal((400_000, 5))
    sq = (a.predict(X) - b.predict(X)) ** 2
    assert abs(sq.mean() - population_mse(a, b)) < Z * sq.std() / math.sqrt(len(sq))
    f = a.predict(X)
    # Var f by Monte Carlo: the sample variance's standard error is about std((f - mean)^2) / sqrt(n).
    assert abs(f.var() - variance(a)) < Z * ((f - f.mean()) ** 2).std() / math.sqrt(len(f))


@pytest.mark.parametrize("seed", range(4))
def test_population_mse_with_biases_by_two_dimensional_quadrature(seed):
    """d = 2: E[(a - b)^2] by nested quadrature, breakpoints at every kink."""
    rng = np.random.default_rng(seed)
    a, b = biased_network(rng, 3, 2), biased_network(rng, 2, 2)
    units = [(u, beta) for net in (a, b) for u, beta in zip(net.directions, net.biases, strict=True)]
    # a - b in plain Python (quad calls it a million times): weights, rows, biases, linear part, constant.
    terms = [(float(s * w), float(u[0]), float(u[1]), float(beta)) for net, s in ((a, 1), (b, -1))
             for w, u, beta in zip(net.weights, net.directions, net.biases, strict=True)]
    (c1, c2), c0 = (a.linear - b.linear).tolist(), a.intercept - b.intercept

    def diff(x1, x2):
        return c0 + c1 * x1 + c2 * x2 + sum(w * max(u1 * x1 + u2 * x2 + beta, 0.0) for w, u1, u2, beta in terms)

    def inner(x1):
        kinks = sorted(-(u[0] * x1 + beta) / u[1] for u, beta in units if abs(u[1]) > 1e-12)
        kinks = [t for t in kinks if -12 < t < 12]
        return quad(lambda x2: diff(x1, x2) ** 2 * density(x2), -12, 12, points=kinks or None, limit=200,
                    epsabs=1e-13)[0]

    outer_kinks = [-beta / u[0] for u, beta in units if abs(u[1]) < 1e-12 and abs(u[0]) > 0]
    exact = quad(lambda x1: inner(x1) * density(x1), -12, 12, points=outer_kinks or None, limit=200,
                 epsabs=1e-12)[0]
    assert population_mse(a, b) == pytest.approx(exact, rel=1e-8)


def test_degenerate_networks_parallel_antiparallel_and_huge_biases(rng):
    u = np.array([0.6, 0.8, 0.0])
    # Parallel and antiparallel units with different biases; |t + 1| = relu(t + 1) + relu(-t - 1).
    net = ReLUNetwork([1.0, -2.0, 0.5], [u, u, -u], biases=[0.3, -0.9, 1.2])
    X = rng.standard_normal((400_000, 3))
    f = net.predict(X)
    assert abs((f**2).mean() - second_moment(net)) < Z * (f**2).std() / math.sqrt(len(f))
    absolute = ReLUNetwork([1.0, 1.0], [u, -u], biases=[1.0, -1.0])
    t = np.linspace(-8, 8, 200_001)
    expected = np.trapezoid((t + 1) ** 2 * np.exp(-t * t / 2) / math.sqrt(2 * math.pi), t)  # E|z+1|^2 = 2
    assert second_moment(absolute) == pytest.approx(expected, rel=1e-9) and expected == pytest.approx(2.0)
    # |b| huge: linear (b = +1e3) or dead (b = -1e3) on the data, exactly.
    linear = ReLUNetwork([2.0, 1.0], [u, [0, 0, 1.0]], biases=[1e3, -1e3])
    assert second_moment(linear) == pytest.approx(4 * (1 + 1e6), rel=1e-15)
    assert variance(linear) == pytest.approx(4.0, rel=1e-9)
    # Positive rescaling of (u, b) and the flip (u, b) -> (-u, -b) with its linear part change nothing.
    a = biased_network(rng, 3, 4, linear=False)
    scale = rng.uniform(0.1, 10, 3)
    scaled = ReLUNetwork(a.weights / scale, a.directions * scale[:, None], None, a.intercept, a.biases * scale)
    assert population_mse(a, scaled) < 1e-12 * second_moment(a)
    flipped = ReLUNetwork(a.weights, -a.directions, linear=a.weights @ a.directions,
                          intercept=a.intercept + float(a.weights @ a.biases), biases=-a.biases)
    assert population_mse(a, flipped) < 1e-12 * second_moment(a)
    assert relative_error(flipped, a) < 1e-12


def test_bias_free_metric_unchanged_by_zero_biases(rng):
    a, b = biased_network(rng, 3, 4), biased_network(rng, 2, 4)
    free_a = ReLUNetwork(a.weights, a.directions, a.linear, a.intercept)
    free_b = ReLUNetwork(b.weights, b.directions, b.linear, b.intercept)
    zero_a = ReLUNetwork(a.weights, a.directions, a.linear, a.intercept, biases=np.zeros(3))
    assert population_mse(zero_a, free_b) == pytest.approx(population_mse(free_a, free_b), rel=1e-13)
    assert variance(zero_a) == pytest.approx(variance(free_a), rel=1e-13)


# --- collapse and recovery by (u, b) -------------------------------------------------------------------------


def test_collapse_merges_only_close_direction_bias_pairs():
    u = np.array([1.0, 0.0])
    net = ReLUNetwork([1.0, 1.0, 1.0], [u, u, [0.0, 1.0]], biases=[0.3, 0.3 + 1e-5, 0.0])
    merged = net.collapse(1e-3)
    assert merged.k == 2 and merged.biases is not None
    assert population_mse(net, merged) < 1e-10
    apart = ReLUNetwork([1.0, 1.0], [u, u], biases=[0.3, 1.3])  # same direction, different biases
    assert apart.collapse(1e-3).k == 2
    assert ReLUNetwork([1.0, -1.0], [u, u], biases=[0.5, 0.5]).collapse(1e-6).k == 0


def test_recovery_report_matches_by_direction_and_bias():
    truth = planted.make("random", 6, 3, random_state=1, biases=1.0)
    order = [2, 0, 1]
    w, U, b = truth.weights[order], truth.directions[order], truth.biases[order]
    flip = np.array([1.0, -1.0, 1.0])
    # Flipping (u, b) -> (-u, -b) costs the linear term w (u x + b): carry it explicitly.
    estimate = ReLUNetwork(w, flip[:, None] * U, linear=((flip < 0) * w) @ U,
                           intercept=float(((flip < 0) * w) @ b), biases=flip * b)
    assert relative_error(estimate, truth) < 1e-12
    report = recovery_report(estimate, truth)
    assert len(report.matches) == 3 and report.max_angle < 1e-7
    assert sorted(m.flipped for m in report.matches) == [False, False, True]
    assert max(abs(m.bias_error) for m in report.matches) < 1e-12
    assert max(abs(m.weight_error) for m in report.matches) < 1e-12
    # Right directions, wrong biases: the augmented angles see it.
    wrong = ReLUNetwork(truth.weights, truth.directions, biases=truth.biases + 0.5)
    assert recovery_report(wrong, truth).max_angle > 0.05
    assert "bias_error" in report.to_dict()["matches"][0]


# --- the zoo ---------------------------------------------------------------------------------------------------

#: sha256 prefixes of weights and directions of make(family, 6, k, seed) before hidden biases existed.
TODAY = {  # digests of the zoo (to 10 digits) at d = 6, seeds 0, 1, 7
    "random": ["94fcd96426c0473a", "0420783df4fc7bdb", "06766c0d246272b2"],
    "orthonormal": ["08e95d7a5a027d50", "08e95d7a5a027d50", "08e95d7a5a027d50"],
    "conditioned": ["3eb07c97082dbfc8", "8b388ccb810fe810", "aea0c295b80f8456"],
    "close-pair": ["a05e260903d31ef4", "c563fe897f0934ad", "039094c1d9817750"],
    "cluster": ["21b31ba976385ead", "359afe2d1c7e1715", "41beac47f344c472"],
    "vanishing": ["8b104621f00008fb", "2369711b14332e0b", "8334e5ba9f23820c"],
}


def _digest(*arrays) -> str:
    """Digest of the values to 10 significant digits: builds of numpy and its BLAS differ in the last bits."""
    return hashlib.sha256(b"".join(np.char.mod("%.9e", np.asarray(a)).tobytes() for a in arrays)).hexdigest()[:16]


@pytest.mark.parametrize("family", planted.FAMILIES)
def test_default_zoo_is_bit_identical_to_the_bias_free_zoo(family):
    k = 8 if family == "vanishing" else 4
    for seed, expected in zip((0, 1, 7), TODAY[family], strict=True):
        net = planted.make(family, 6, k, random_state=seed)
        assert net.biases is None and _digest(net.weights, net.directions) == expected
        biased = planted.make(family, 6, k, random_state=seed, biases=0.5)  # same instance, biases added
        np.testing.assert_array_equal(biased.directions, net.directions)
        np.testing.assert_array_equal(biased.weights, net.weights)
        assert biased.biases.shape == (k,) and np.all(biased.biases != 0)
    assert _digest(*(lambda n: (n.weights, n.directions))(
        planted.make("orthonormal", 6, 4, random_state=0, basis="random"))) == "b9ec866707648c4b"
    # Noisy samples too (the noise is scaled by the exact std(f)).
    X, y = planted.sample(planted.make("cluster", 6, 4, random_state=3), 50, noise=0.5, random_state=4)
    assert _digest(X, y) == "d31502a644bda9c6"


def test_biases_knob_ties_structure_and_scale():
    pair = planted.make("close-pair", 10, 4, random_state=0, biases=1.0)
    assert pair.biases[0] == pair.biases[1] != pair.biases[2]
    cluster = planted.make("cluster", 10, 5, random_state=0, m=3, biases=1.0)
    assert len(set(cluster.biases[:3])) == 1
    vanishing = planted.make("vanishing", 6, 10, m=4, random_state=0, biases=1.0)
    np.testing.assert_array_equal(vanishing.biases[4:8], -vanishing.biases[:4])
    wide = planted.make("random", 3, 4000, random_state=0, biases=0.5)  # k > d is allowed
    # Sample variance of n normals: standard error s^2 sqrt(2 / (n - 1)).
    assert abs(wide.biases.var() - 0.25) < Z * 0.25 * math.sqrt(2 / 3999)
    for family, k in (("close-pair", 12), ("cluster", 12), ("vanishing", 16)):
        assert planted.make(family, 5, k, random_state=0, biases=1.0).k == k
    for bad in (-1.0, float("nan"), "1"):
        with pytest.raises(ValueError, match="biases must be"):
            planted.make("random", 5, 2, biases=bad)


def test_biased_sampling_noise_uses_the_exact_std(rng):
    net = planted.make("random", 4, 3, random_state=2, biases=1.0)
    X, y = planted.sample(net, 200_000, noise=0.5, random_state=rng)
    f = net.predict(X)
    assert abs(f.var() - variance(net)) < Z * ((f - f.mean()) ** 2).std() / math.sqrt(len(f))
    target = 0.25 * variance(net)
    assert abs((y - f).var() - target) < Z * target * math.sqrt(2 / (len(y) - 1))


# --- files and exports -----------------------------------------------------------------------------------------


def test_model_file_with_biases_round_trip_and_non_finite_biases_refused(tmp_path):
    net = planted.make("cluster", 5, 4, random_state=0, biases=1.0)
    net.save(tmp_path / "m.json")
    again = ReLUNetwork.load(tmp_path / "m.json")
    np.testing.assert_allclose(again.biases, net.biases, rtol=1e-15)
    assert population_mse(again, net) < 1e-25
    data = json.loads((tmp_path / "m.json").read_text())
    for bad in ("NaN", "Infinity", "-Infinity"):
        text = json.dumps(data | {"biases": [0.0, 1.0, 2.0, 3.0]}).replace("3.0]", f"{bad}]")
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(ValueError, match=r"bad\.json.*biases contains NaN or inf \(first at index \[3\]\)"):
            ReLUNetwork.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="biases has 2 entries"):
        ReLUNetwork.from_dict(data | {"biases": [0.0, 1.0]})


def test_exports_with_biases(tmp_path):
    net = planted.make("random", 5, 3, random_state=0, biases=1.0)
    net = ReLUNetwork(net.weights, net.directions, np.arange(5.0), 0.3, net.biases)
    X = np.random.default_rng(0).standard_normal((200, 5))
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        np.testing.assert_allclose(net.to_torch()(torch.from_numpy(X)).numpy(), net.predict(X), atol=1e-12)
    ort = pytest.importorskip("onnxruntime")
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-4)):
        net.to_onnx(tmp_path / "m.onnx", dtype=dtype)
        (predicted,) = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": X.astype(dtype)})
        np.testing.assert_allclose(predicted, net.predict(X), atol=tol, rtol=tol)
