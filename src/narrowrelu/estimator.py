"""``NarrowReLURegressor``: the scikit-learn face of :func:`narrowrelu.learn` (needs scikit-learn)."""

from __future__ import annotations

import numpy as np

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError('NarrowReLURegressor needs scikit-learn: pip install "narrowrelu[sklearn]"') from None

from ._learn import learn

__all__ = ["NarrowReLURegressor"]


class NarrowReLURegressor(RegressorMixin, BaseEstimator):
    r"""Fit :math:`f(x) = \sum_{i \le k} w_i \mathrm{relu}(\langle u_i, x\rangle)` by the moment method.

    A thin adapter over :func:`narrowrelu.learn`; inputs are assumed :math:`N(0, I)`.

    Parameters
    ----------
    k : int or "auto", default=2
        Number of neurons.
    method : {'auto', 'cdgkm23', 'cn24', 'dk23'}, default='auto'
    random_state : int, RandomState instance or None, default=None
    validation_fraction : float, default=0.2
    standardize : bool, default=False
        Whiten N(mu, Sigma) inputs and map the network back (see ``learn``).
    options : dict or None, default=None
        Method options passed to :func:`narrowrelu.learn`.

    Attributes
    ----------
    network_ : ReLUNetwork
    weights_ : ndarray of shape (k,)
    directions_ : ndarray of shape (k, n_features)
    report_ : narrowrelu.report.Report
    n_features_in_ : int

    Examples
    --------
    >>> from narrowrelu import planted
    >>> X, y = planted.sample(planted.make("random", 5, 2, random_state=0), 5000, random_state=0)
    >>> NarrowReLURegressor(k=2, random_state=0).fit(X, y).score(X, y) > 0.999
    True
    """

    def __init__(self, k=2, method="auto", random_state=None, validation_fraction=0.2, standardize=False,
                 options=None):
        self.k = k
        self.method = method
        self.random_state = random_state
        self.validation_fraction = validation_fraction
        self.standardize = standardize
        self.options = options

    def fit(self, X, y):
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        self.network_ = learn(X, y, self.k, method=self.method, random_state=self.random_state,
                              validation_fraction=self.validation_fraction, standardize=self.standardize,
                              **(self.options or {}))
        self.weights_ = self.network_.weights
        self.directions_ = self.network_.directions
        self.report_ = self.network_.report
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.network_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A moment method for Gaussian inputs: sklearn's generic regression sets are not that.
        tags.regressor_tags.poor_score = True
        return tags
