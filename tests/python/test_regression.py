"""GaussianMixtureRegressor: scikit-learn's estimator checks, a noisy non-linear curve against
LinearRegression, the conditional standard deviation against the naive formula, agreement with
the gmr package (when installed) from the same parameters, and the sklearn tooling."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from gaussmix import GaussianMixtureRegressor

# Checks expected to fail, each with its reason: none. check_estimator runs every check,
# including sample_weight invariance, float32 input, multi-output and n_iter_.
EXPECTED_FAILED_CHECKS = {}


def _noisy_curve(n=2000, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, (n, 1))
    y = np.sin(2 * X[:, 0]) + 0.3 * X[:, 0] + 0.15 * rng.randn(n)
    return X, y


def test_passes_check_estimator():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(GaussianMixtureRegressor(), expected_failed_checks=EXPECTED_FAILED_CHECKS)


def test_beats_linear_regression_on_a_noisy_curve():
    X, y = _noisy_curve()
    X_test, y_test = _noisy_curve(500, seed=1)
    gmr = GaussianMixtureRegressor(n_components=10, random_state=0).fit(X, y)
    linear = LinearRegression().fit(X, y)
    assert gmr.score(X_test, y_test) > 0.9 > linear.score(X_test, y_test) + 0.3
    # Residual standard deviation near the noise level 0.15.
    assert np.std(gmr.predict(X_test) - y_test) < 0.2


def test_one_component_is_linear_regression():
    rng = np.random.RandomState(0)
    X = rng.randn(400, 3)
    y = X @ [1.0, -2.0, 0.5] + 3 + 0.1 * rng.randn(400)
    gmr = GaussianMixtureRegressor(reg_covar=0.0).fit(X, y)
    np.testing.assert_allclose(gmr.predict(X), LinearRegression().fit(X, y).predict(X), rtol=1e-6, atol=1e-8)


def test_return_std_and_predict_distribution():
    X, y = _noisy_curve()
    gmr = GaussianMixtureRegressor(n_components=6, random_state=0).fit(X, y)
    X_new = np.linspace(-2.5, 2.5, 7)[:, None]
    mean, std = gmr.predict(X_new, return_std=True)
    dist = gmr.predict_distribution(X_new)
    # Naive law of total variance from the conditional mixture's components.
    w, m = dist.weights, dist.means[:, :, 0]
    within = np.asarray(dist.covariances).reshape(len(dist.weights[0]), -1)[:, 0]
    naive_mean = (w * m).sum(axis=1)
    naive_var = (w * (within + m ** 2)).sum(axis=1) - naive_mean ** 2
    np.testing.assert_allclose(mean, naive_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(std, np.sqrt(naive_var), rtol=1e-8)
    assert mean.shape == std.shape == (7,)
    assert np.all(std > 0.1) and np.all(std < 0.4)  # about the noise level 0.15


def test_multi_output():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, (1000, 2))
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 0] * X[:, 1]]) + 0.05 * rng.randn(1000, 2)
    gmr = GaussianMixtureRegressor(n_components=12, random_state=0).fit(X, Y)
    mean, std = gmr.predict(X, return_std=True)
    assert mean.shape == std.shape == (1000, 2) and gmr.n_outputs_ == 2
    assert gmr.score(X, Y) > 0.8


def test_works_in_pipeline_cross_val_score_and_grid_search():
    X, y = _noisy_curve(600)
    pipe = make_pipeline(StandardScaler(), GaussianMixtureRegressor(n_components=5, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.7)
    search = GridSearchCV(GaussianMixtureRegressor(random_state=0), {"n_components": [1, 8]}, cv=3).fit(X, y)
    assert search.best_params_ == {"n_components": 8}


def test_rejects_hostile_input():
    X, y = _noisy_curve(100)
    with pytest.raises(ValueError):
        GaussianMixtureRegressor().fit(X, y[:50])
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixtureRegressor().fit(X, np.where(np.arange(100) == 3, np.nan, y))
    gmr = GaussianMixtureRegressor().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        gmr.predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        gmr.predict(np.full((3, 1), np.nan))


def test_matches_gmr_from_the_same_parameters():
    gmr_package = pytest.importorskip("gmr")
    X, y = _noisy_curve()
    ours = GaussianMixtureRegressor(n_components=6, random_state=0).fit(X, y)
    mix = ours.mixture_
    theirs = gmr_package.GMM(n_components=6, priors=mix.weights_, means=mix.means_, covariances=mix.covariances_)
    X_new = np.linspace(-3, 3, 50)[:, None]
    np.testing.assert_allclose(ours.predict(X_new), theirs.predict(np.array([0]), X_new)[:, 0], rtol=1e-8, atol=1e-10)
