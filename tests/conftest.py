import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

#: Number of standard errors a Monte Carlo estimate may stray in a statistical test. With
#: z = 5 a two-sided Gaussian tail is 5.7e-7, small enough for a few hundred entries per test.
Z = 5.0


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
