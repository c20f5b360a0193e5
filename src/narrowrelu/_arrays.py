"""One array namespace for every kernel: numpy, or any array-API array (torch tensors on a GPU);
and the one place where BLAS is pinned to one thread (:func:`single_blas_thread`)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np


def namespace(*arrays):
    """numpy for numpy arrays, otherwise the arrays' array-API namespace (``array-api-compat``).

    Kernels written against it run unchanged on torch tensors: the torch engine uses the
    very same code as the numpy engine.
    """
    if all(isinstance(a, np.ndarray | np.generic) for a in arrays):
        return np
    from array_api_compat import array_namespace

    return array_namespace(*arrays)


def like(array: np.ndarray, X):
    """``array`` (numpy) in the namespace, dtype and device of ``X``."""
    xp = namespace(X)
    return array if xp is np else xp.asarray(array, dtype=X.dtype, device=X.device)


def take(array, rows: np.ndarray):
    """``array[rows]`` (integer indices along the first axis) for numpy arrays and device tensors alike."""
    xp = namespace(array)
    return np.take(array, rows, axis=0) if xp is np else array[xp.asarray(rows, device=array.device)]


#: Multipliers of the splitmix64 finaliser (Steele, Lea and Flood 2014).
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def mix64(values) -> np.ndarray:
    """The splitmix64 finaliser of unsigned 64-bit integers (elementwise): a bijection that
    scatters every input bit over every output bit (a fixed pseudo-random hash)."""
    z = np.asarray(values).astype(np.uint64) + _MIX[0]
    z = (z ^ (z >> np.uint64(30))) * _MIX[1]
    z = (z ^ (z >> np.uint64(27))) * _MIX[2]
    return z ^ (z >> np.uint64(31))


def is_device_array(X) -> bool:
    """True for array-API arrays other than numpy's (a torch tensor, say)."""
    return not isinstance(X, np.ndarray) and hasattr(X, "__dlpack__") and hasattr(X, "device")


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limit = None


@contextmanager
def single_blas_thread():
    """BLAS pinned to one thread while any caller is inside; the previous limits restored after the last.

    OpenBLAS thread limits are process-wide, so concurrent scopes (two ``learn`` calls in threads,
    an engine's worker threads) share one limit, set by the first to enter and restored by the
    last to leave: no scope restores the limits while another still relies on them.
    """
    global _blas_users, _blas_limit
    with _blas_lock:
        if _blas_users == 0:
            from threadpoolctl import threadpool_limits

            _blas_limit = threadpool_limits(1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limit.restore_original_limits()
                _blas_limit = None


def ordered_map(function, items, n_jobs: int) -> list:
    """``[function(item) for item in items]`` on ``n_jobs`` threads, BLAS pinned to one thread each.

    Results come back in the order of ``items`` whatever the number of threads, so sums over
    them taken in that order do not depend on ``n_jobs``.
    """
    items = list(items)
    jobs = max(1, min(n_jobs, len(items)))
    with single_blas_thread():
        if jobs == 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(jobs) as pool:
            return list(pool.map(function, items))
