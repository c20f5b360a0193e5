"""One array namespace for every kernel: numpy, or any array-API array (torch tensors on a GPU)."""

from __future__ import annotations

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


def is_device_array(X) -> bool:
    """True for array-API arrays other than numpy's (a torch tensor, say)."""
    return not isinstance(X, np.ndarray) and hasattr(X, "__dlpack__") and hasattr(X, "device")
