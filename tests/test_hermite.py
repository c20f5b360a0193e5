import math

import numpy as np
import pytest
from conftest import Z
from numpy.polynomial.hermite_e import hermegauss
from scipy.integrate import quad

from narrowrelu.hermite import contraction_weights, hermite, relu_coefficient


def test_recurrence_matches_numpy_hermite_e():
    t = np.linspace(-3, 3, 13)
    for n in range(9):
        coef = np.zeros(n + 1)
        coef[n] = 1
        np.testing.assert_allclose(hermite(n, t), np.polynomial.hermite_e.hermeval(t, coef), atol=1e-9)
    assert np.all(hermite(-1, t) == 0)


def test_orthogonality_exact_quadrature():
    nodes, weights = hermegauss(30)
    weights = weights / math.sqrt(2 * math.pi)
    for n in range(8):
        for m in range(8):
            value = weights @ (hermite(n, nodes) * hermite(m, nodes))
            assert value == pytest.approx(math.factorial(n) * (n == m), abs=1e-9)


@pytest.mark.parametrize("n", range(11))
def test_relu_coefficients_against_integral(n):
    density = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    exact = quad(lambda z: z * float(hermite(n, z)) * density(z), 0, 40, epsabs=1e-13, limit=200)[0]
    assert relu_coefficient(n) == pytest.approx(exact, abs=1e-9)


def test_relu_coefficients_closed_forms():
    s = math.sqrt(2 * math.pi)
    expected = {0: 1 / s, 1: 0.5, 2: 1 / s, 3: 0, 4: -1 / s, 5: 0, 6: 3 / s, 8: -15 / s, 10: 105 / s}
    for n, value in expected.items():
        assert relu_coefficient(n) == pytest.approx(value, abs=1e-15)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 6])
def test_relu_coefficients_monte_carlo(n, rng):
    z = rng.standard_normal(400_000)
    terms = np.maximum(z, 0) * hermite(n, z)
    se = terms.std() / math.sqrt(len(z))
    assert abs(terms.mean() - relu_coefficient(n)) < Z * se


@pytest.mark.parametrize("degree", [2, 4, 6, 8])
def test_contraction_kernel_identity_monte_carlo(degree, rng):
    """E[relu(<u,x>) K_l(x; g)] = c_l <u,g>^(l-2) u u^T, entrywise within Z standard errors."""
    d, n = 4, 400_000
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    g = u + 0.5 * rng.standard_normal(d)
    g /= np.linalg.norm(g)
    X = rng.standard_normal((n, d))
    s = X @ g
    a, b, c = contraction_weights(degree, s)
    y = np.maximum(X @ u, 0)
    K = (
        a[:, None, None] * (X[:, :, None] * X[:, None, :] - np.eye(d))
        + b[:, None, None] * (g[None, :, None] * X[:, None, :] + X[:, :, None] * g[None, None, :])
        + c[:, None, None] * np.outer(g, g)
    )
    terms = y[:, None, None] * K
    truth = relu_coefficient(degree) * (u @ g) ** (degree - 2) * np.outer(u, u)
    se = terms.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(terms.mean(axis=0) - truth) < Z * se)


def test_odd_moment_vanishes_monte_carlo(rng):
    """T_3 contracted three times: E[relu(<u,x>) He_3(<g,x>)] = c_3 <u,g>^3 = 0."""
    d, n = 3, 400_000
    u, g = np.eye(d)[0], np.ones(d) / math.sqrt(d)
    X = rng.standard_normal((n, d))
    terms = np.maximum(X @ u, 0) * hermite(3, X @ g)
    assert abs(terms.mean()) < Z * terms.std() / math.sqrt(n)


def test_bad_degree():
    with pytest.raises(ValueError, match="degree"):
        contraction_weights(1, np.zeros(3))
    with pytest.raises(ValueError, match="n must be"):
        relu_coefficient(-1)
