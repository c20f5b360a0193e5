import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from narrowrelu import NarrowReLURegressor, planted, relative_error


@parametrize_with_checks([NarrowReLURegressor(k=2, random_state=0)])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_fitted_attributes_pipeline_and_grid_search():
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 10_000, random_state=0)
    est = NarrowReLURegressor(k=2, random_state=0).fit(X, y)
    assert relative_error(est.network_, truth) < 1e-4
    assert est.weights_.shape == (2,) and est.directions_.shape == (2, 6) and est.n_features_in_ == 6
    assert est.report_.method == "auto"
    pipe = make_pipeline(FunctionTransformer(), NarrowReLURegressor(k=2, random_state=0)).fit(X, y)
    np.testing.assert_allclose(pipe.predict(X[:5]), est.predict(X[:5]))
    search = GridSearchCV(NarrowReLURegressor(random_state=0), {"k": [1, 2]}, cv=2).fit(X, y)
    assert search.best_params_ == {"k": 2}
    assert clone(est).get_params() == est.get_params()
