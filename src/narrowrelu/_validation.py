"""Input checks shared by every public function.

Each check raises ``ValueError`` with a message that names the argument, says what was
expected and what was received, so that a user never sees a bare traceback from numpy.
"""

from __future__ import annotations

import numbers

import numpy as np

RandomState = int | np.random.Generator | np.random.RandomState | None


def as_generator(random_state: RandomState) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``random_state``.

    Parameters
    ----------
    random_state : int, Generator, RandomState instance or None
        ``None`` gives fresh OS entropy, an int seeds a new generator, a ``Generator`` is
        used as it is, and a legacy ``RandomState`` seeds a new generator from its stream.
    """
    if random_state is None or isinstance(random_state, numbers.Integral):
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise ValueError(
        "random_state must be None, an int, a numpy Generator or RandomState, "
        f"got {type(random_state).__name__}"
    )


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_finite_array(value, name: str, ndim: int, dtype=np.float64) -> np.ndarray:
    """Return ``value`` as an array of ``ndim`` dimensions with only finite entries."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, could not convert: {exc}") from None
    if array.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-dimensional array, got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        where = ", ".join(str(i) for i in bad)
        raise ValueError(
            f"{name} contains NaN or inf (first at index [{where}]); "
            "remove or impute those entries"
        )
    return array


def check_samples(X, y, d: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate a design matrix ``X`` of shape (n, d) and targets ``y`` of shape (n,)."""
    X = check_finite_array(X, "X", 2)
    y = check_finite_array(y, "y", 1)
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y have mismatched lengths: X has {X.shape[0]} rows, y has {y.shape[0]}"
        )
    if X.shape[0] == 0:
        raise ValueError("X and y are empty: at least one sample is needed")
    if d is not None and X.shape[1] != d:
        raise ValueError(f"X must have {d} columns (features), got {X.shape[1]}")
    return X, y


def check_unit_vector(g, name: str, d: int, rtol: float = 1e-6) -> np.ndarray:
    """Validate a unit vector of length ``d``."""
    g = check_finite_array(g, name, 1)
    if g.shape[0] != d:
        raise ValueError(f"{name} must have length {d} (the number of features), got {g.shape[0]}")
    norm = float(np.linalg.norm(g))
    if abs(norm - 1.0) > rtol:
        raise ValueError(f"{name} must be a unit vector, got norm {norm:.6g}; divide it by its norm")
    return g


#: Standard errors a moment of the inputs may stray before we call them non-Gaussian (ours;
#: with d^2 covariance entries tested, z = 6 keeps false alarms below 1e-4 up to d = 100).
GAUSSIAN_Z = 6.0


def gaussian_input_problems(X: np.ndarray, z: float = GAUSSIAN_Z) -> list[str]:
    r"""Ways in which the rows of ``X`` visibly are not :math:`N(0, I)`.

    Each check compares a sample moment with its value under :math:`N(0, I)` in units of
    its standard error: means (se :math:`1/\sqrt n`), covariances (se
    :math:`\sqrt{(1 + \delta_{ij})/n}`) and the fourth moments :math:`E x_j^4 = 3`
    (se :math:`\sqrt{96/n}`).
    """
    n, d = X.shape
    problems = []
    mean = X.mean(axis=0)
    worst = int(np.argmax(np.abs(mean)))
    if abs(mean[worst]) > z / np.sqrt(n):
        problems.append(f"column {worst} has mean {mean[worst]:.3g} (expected 0)")
    centred = X - mean
    cov = centred.T @ centred / n
    se = np.sqrt((1.0 + np.eye(d)) / n)
    excess = np.abs(cov - np.eye(d)) / se
    i, j = np.unravel_index(int(np.argmax(excess)), excess.shape)
    if excess[i, j] > z:
        problems.append(f"covariance[{i}, {j}] is {cov[i, j]:.3g} (expected {float(i == j):g})")
    squared = centred * centred  # not centred**4: float powers are ~30x slower
    kurtosis = np.einsum("ij,ij->j", squared, squared) / n
    worst = int(np.argmax(np.abs(kurtosis - 3.0)))
    if abs(kurtosis[worst] - 3.0) > z * np.sqrt(96.0 / n):
        problems.append(f"column {worst} has fourth moment {kurtosis[worst]:.3g} (3 for a Gaussian)")
    return problems
