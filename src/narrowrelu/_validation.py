"""Input checks shared by every public function.

Each check raises ``ValueError`` with a message that names the argument, says what was
expected and what was received, so that a user never sees a bare traceback from numpy.
"""

from __future__ import annotations

import numbers
import re

import numpy as np

from ._arrays import mix64

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


#: Contiguous groups of rows compared by :func:`row_order_problems` (ours).
ORDER_GROUPS = 32
#: Chance that exchangeable rows are reported as ordered, all columns together (ours).
ORDER_FALSE_ALARM = 1e-4


def row_order_problems(X: np.ndarray, y: np.ndarray, columns: list[str]) -> list[str]:
    r"""Columns (the labels first) whose means over runs of consecutive rows differ more than in shuffled rows.

    For each column, the F-ratio of ``ORDER_GROUPS`` contiguous groups of the rows (in the order
    given): the mean square of the group means over the within-group variance. For exchangeable
    rows it follows the :math:`F(G - 1, n - G)` law (Gaussian columns; about so otherwise); a
    column is reported when its tail probability is below ``ORDER_FALSE_ALARM`` / (d + 1).
    Rows sorted or grouped by a column give a far larger ratio for it (and for the columns
    that depend on it).
    """
    from scipy.special import fdtrc  # the F law's survival function (scipy.stats takes a second to import)

    n = len(y)
    groups = min(ORDER_GROUPS, n // 8)
    if groups < 2:
        return []
    cuts = np.linspace(0, n, groups + 1).astype(int)
    sizes = np.diff(cuts)
    shift = np.r_[y[0], X[0]]  # sums of squares about the first row: no cancellation for offset columns
    means, within = np.empty((groups, len(shift))), np.zeros(len(shift))
    for g in range(groups):  # one group of consecutive rows at a time: a copy of 1/groups of them at most
        block = np.column_stack([y[cuts[g]:cuts[g + 1]], X[cuts[g]:cuts[g + 1]]]) - shift
        means[g] = block.mean(axis=0)
        within += np.einsum("ij,ij->j", block, block) - sizes[g] * means[g] ** 2
    between = sizes @ (means - sizes @ means / n) ** 2 / (groups - 1)
    within /= n - groups
    ratio = np.divide(between, within, out=np.zeros_like(between), where=within > 0)
    tail = fdtrc(groups - 1, n - groups, ratio)
    return [f"{name} (F = {r:.3g})" for name, r, p, w in zip(["y", *columns], ratio, tail, within, strict=True)
            if w > 0 and p < ORDER_FALSE_ALARM / (1 + len(columns))]


#: :func:`duplicate_rows` first keys every row by its label and this many first inputs (ours).
DUPLICATE_KEY_COLUMNS = 4


def _row_hashes(X: np.ndarray, y: np.ndarray, block: int = 8192) -> np.ndarray:
    """A 64-bit hash of the bytes of each row ``(X[i], y[i])`` (float64), block by block."""
    weights = mix64(np.arange(X.shape[1] + 1)) | np.uint64(1)
    hashes = np.empty(len(y), dtype=np.uint64)
    for start in range(0, len(y), block):
        rows = np.column_stack([X[start:start + block], y[start:start + block]]).astype(np.float64)
        hashes[start:start + block] = (mix64(rows.view(np.uint64)) * weights).sum(axis=1, dtype=np.uint64)
    return hashes


def duplicate_rows(parts: list[tuple[np.ndarray, np.ndarray]]) -> int:
    """How many rows of the ``(X, y)`` parts repeat an earlier row exactly (inputs and label).

    Rows are keyed by a hash of the label and the first ``DUPLICATE_KEY_COLUMNS`` inputs; only
    the rows whose key repeats are hashed whole (64 bits of all their bytes), so rows without
    repeats cost a few columns each. The parts are read where they are (no joined copy).
    """
    X = [np.asarray(X) for X, _ in parts]
    y = [np.asarray(y) for _, y in parts]
    keys = np.concatenate([_row_hashes(x[:, :DUPLICATE_KEY_COLUMNS], v) for x, v in zip(X, y, strict=True)])
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    suspects = counts[inverse] > 1
    if not suspects.any():
        return 0
    offsets = np.cumsum([0, *map(len, y)])
    full = np.concatenate([_row_hashes(x[rows], v[rows]) for x, v, a, b in zip(X, y, offsets, offsets[1:], strict=False)
                           for rows in [np.flatnonzero(suspects[a:b])]])
    return len(full) - len(np.unique(full))


_MEMORY_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
                 "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
#: The smallest memory budget accepted (ours): below it nothing useful fits beside the interpreter.
MIN_MEMORY = 16 * 2**20


def check_memory(value, name: str = "memory") -> int:
    """A memory budget in bytes from an int (bytes) or a size such as ``"512MB"``, ``"2GiB"``, ``"1.5G"``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        size = int(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", value)
        unit = match and match.group(2).lower()
        if not match or unit not in _MEMORY_UNITS:
            raise ValueError(f"{name} must be a number of bytes or a size such as '512MB' or '2GiB' "
                             f"(units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got {value!r}")
        size = int(float(match.group(1)) * _MEMORY_UNITS[unit])
    else:
        raise ValueError(f"{name} must be a number of bytes or a size such as '512MB', got {value!r}")
    if size < MIN_MEMORY:
        raise ValueError(f"{name}={value!r} is below the smallest budget accepted, {MIN_MEMORY // 2**20} MiB")
    return size

