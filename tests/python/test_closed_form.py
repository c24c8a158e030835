"""Closed-form truths (issue 2, acceptance 4).

One component is the sample mean and biased covariance plus reg_covar;
score_samples is a scipy.stats.multivariate_normal mixture; predict_proba is
its normalised posterior; the lower bound never decreases; sample() reproduces
the fitted weights, means and covariances within sampling error on 1e5 draws;
AIC and BIC are their formulas with scikit-learn's parameter-count table.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from estimator_helpers import (
    COVARIANCE_TYPES,
    RandomData,
    assert_allclose_scaled,
    make_correlated_data,
    make_overlapping_data,
    model_full_covariances,
    n_parameters,
    precision_shape,
    scipy_log_resp,
    scipy_score_samples,
)
from gaussmix import GaussianMixture


def _expected_one_component(X, covariance_type, reg_covar):
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    mean = X.mean(axis=0)
    cov = np.atleast_2d(np.cov(X.T, bias=True))
    if covariance_type == "full":
        return mean[None], (cov + reg_covar * np.eye(d))[None]
    if covariance_type == "tied":
        return mean[None], cov + reg_covar * np.eye(d)
    if covariance_type == "diag":
        return mean[None], (np.diag(cov) + reg_covar)[None]
    return mean[None], np.array([np.mean(np.diag(cov)) + reg_covar])


@pytest.mark.parametrize("reg_covar", [0.0, 1e-6, 0.5])
def test_one_component_is_sample_mean_and_biased_covariance(covariance_type, dtype, reg_covar):
    X = make_correlated_data(n_samples=400, n_features=4, n_components=2)
    X = (X - 100.0).astype(dtype)  # near the origin; far from it: the float32 test below
    gm = GaussianMixture(n_components=1, covariance_type=covariance_type,
                         reg_covar=reg_covar, random_state=0).fit(X)
    mean, cov = _expected_one_component(X, covariance_type, reg_covar)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert_allclose(gm.weights_, [1.0], rtol=rtol)
    assert_allclose_scaled(gm.means_, mean, rtol, err_msg="means_")
    assert_allclose_scaled(gm.covariances_, cov, rtol, err_msg="covariances_")
    assert gm.converged_
    assert gm.n_iter_ <= 2


@pytest.mark.beyond_sklearn
def test_float32_one_component_far_from_origin(covariance_type):
    """float32 data at offset 1e3 with unit spread: second moments must be
    accumulated about a shift (scikit-learn's diag/spherical float32 path
    computes E[x^2] - mean^2 and loses every digit here: its issue 30382)."""
    rng = np.random.RandomState(0)
    X = (1000.0 + rng.standard_normal((2000, 3)) * [1.0, 0.5, 2.0]).astype(np.float32)
    gm = GaussianMixture(n_components=1, covariance_type=covariance_type).fit(X)
    mean, cov = _expected_one_component(X, covariance_type, 1e-6)
    assert gm.covariances_.dtype == np.float32
    assert_allclose_scaled(gm.means_, mean, 1e-6, err_msg="means_")
    assert_allclose_scaled(gm.covariances_, cov, 1e-3, err_msg="covariances_")


def test_one_component_one_feature_all_types_same_bic():
    # scikit-learn's test_bic_1d_1component
    X = np.random.RandomState(0).randn(100, 1)
    bics = [GaussianMixture(n_components=1, covariance_type=t, random_state=0).fit(X).bic(X)
            for t in COVARIANCE_TYPES]
    assert_allclose(bics, bics[0], rtol=1e-12)


@pytest.fixture(scope="module")
def fitted_models():
    """A 3-component fit per covariance type on overlapping data."""
    X, _ = make_overlapping_data()
    models = {}
    for t in COVARIANCE_TYPES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models[t] = GaussianMixture(n_components=3, covariance_type=t,
                                        random_state=0).fit(X)
    return X, models


def test_fitted_shapes_and_consistency(fitted_models, covariance_type):
    X, models = fitted_models
    gm = models[covariance_type]
    k, d = 3, X.shape[1]
    shape = precision_shape(covariance_type, k, d)
    assert gm.weights_.shape == (k,)
    assert gm.means_.shape == (k, d)
    assert gm.covariances_.shape == shape
    assert gm.precisions_.shape == shape
    assert gm.precisions_cholesky_.shape == shape
    assert_allclose(gm.weights_.sum(), 1.0, rtol=1e-12)
    assert np.all(gm.weights_ > 0)

    cov = model_full_covariances(gm)
    prec = np.asarray(gm.precisions_)
    chol = np.asarray(gm.precisions_cholesky_)
    if covariance_type == "full":
        assert_allclose(cov, np.swapaxes(cov, 1, 2), rtol=1e-12, atol=1e-14)
        assert_allclose_scaled(prec, np.linalg.inv(gm.covariances_), 1e-8)
        assert_allclose_scaled(np.einsum("kij,klj->kil", chol, chol), prec, 1e-10)
        assert np.all(np.tril(chol, -1) == 0), "precisions_cholesky_ must be upper triangular"
        assert np.all(np.diagonal(chol, axis1=1, axis2=2) > 0)
    elif covariance_type == "tied":
        assert_allclose_scaled(prec, np.linalg.inv(gm.covariances_), 1e-8)
        assert_allclose_scaled(chol @ chol.T, prec, 1e-10)
        assert np.all(np.tril(chol, -1) == 0), "precisions_cholesky_ must be upper triangular"
        assert np.all(np.diag(chol) > 0)
    else:
        assert_allclose(prec, 1.0 / gm.covariances_, rtol=1e-10)
        assert_allclose(chol, np.sqrt(prec), rtol=1e-10)
    assert gm.n_features_in_ == d
    assert not hasattr(gm, "feature_names_in_")


def test_score_samples_is_a_scipy_mixture(fitted_models, covariance_type):
    X, models = fitted_models
    gm = models[covariance_type]
    rng = np.random.RandomState(0)
    # training points, new points and points far in the tails
    X_test = np.vstack([X[:50], rng.standard_normal((50, 3)) * 3, rng.standard_normal((10, 3)) * 30])
    expected = scipy_score_samples(X_test, gm.weights_, gm.means_, model_full_covariances(gm))
    got = gm.score_samples(X_test)
    assert got.shape == (len(X_test),)
    assert_allclose(got, expected, rtol=1e-10)
    assert_allclose(gm.score(X_test), expected.mean(), rtol=1e-10)
    assert isinstance(gm.score(X_test), float)


def test_predict_proba_is_the_posterior(fitted_models, covariance_type):
    X, models = fitted_models
    gm = models[covariance_type]
    log_joint = scipy_log_resp(X, gm.weights_, gm.means_, model_full_covariances(gm))
    expected = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    proba = gm.predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert np.all(proba >= 0) and np.all(proba <= 1)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert_allclose(proba, expected, rtol=1e-8, atol=1e-12)
    labels = gm.predict(X)
    assert labels.shape == (len(X),)
    assert np.issubdtype(labels.dtype, np.integer)
    assert_array_equal(labels, proba.argmax(axis=1))


def test_float32_scores_and_probabilities(covariance_type):
    X, _ = make_overlapping_data()
    X32 = X.astype(np.float32)
    gm = GaussianMixture(n_components=3, covariance_type=covariance_type,
                         random_state=0).fit(X32)
    expected = scipy_score_samples(X32, gm.weights_.astype(np.float64),
                                   gm.means_.astype(np.float64), model_full_covariances(gm))
    got = gm.score_samples(X32)
    assert got.dtype == np.float32
    assert_allclose_scaled(got, expected, 1e-4)
    proba = gm.predict_proba(X32)
    assert proba.dtype == np.float32
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-5)


DATASETS_FOR_MONOTONICITY = {
    "random_data": lambda t: (RandomData(np.random.RandomState(0), scale=7).X[t], 2),
    "overlapping": lambda t: (make_overlapping_data()[0], 3),
    "correlated_offset": lambda t: (make_correlated_data(), 4),
}


@pytest.mark.parametrize("dataset", list(DATASETS_FOR_MONOTONICITY))
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_lower_bound_never_decreases(covariance_type, dataset, init_params):
    X, k = DATASETS_FOR_MONOTONICITY[dataset](covariance_type)
    gm = GaussianMixture(n_components=k, covariance_type=covariance_type, reg_covar=0.0,
                         tol=1e-9, max_iter=400, init_params=init_params, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    lbs = np.asarray(gm.lower_bounds_, dtype=np.float64)
    assert len(lbs) == gm.n_iter_
    assert np.all(np.isfinite(lbs))
    assert_allclose(gm.lower_bound_, lbs[-1], rtol=1e-15)
    steps = np.diff(lbs)
    assert steps.min() >= -1e-12 * np.abs(lbs).max(), f"lower bound decreased by {-steps.min()}"
    if gm.converged_:
        # the lower bound is the log-likelihood before the last M-step
        score = gm.score(X)
        assert score >= gm.lower_bound_ - 1e-12 * abs(score)
        assert score - gm.lower_bound_ < 1e-6


def test_warm_started_single_iterations_increase_the_likelihood(covariance_type):
    # scikit-learn's test_monotonic_likelihood
    X = RandomData(np.random.RandomState(0), scale=7).X[covariance_type]
    gm = GaussianMixture(n_components=2, covariance_type=covariance_type, reg_covar=0,
                         warm_start=True, max_iter=1, random_state=0, tol=1e-7)
    current = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(600):
            previous = current
            current = gm.fit(X).score(X)
            assert current >= previous
            if gm.converged_:
                break
    assert gm.converged_


# --------------------------------------------------------------------------- sample


@pytest.mark.parametrize("n_features", [1, 3])
def test_sample_moments_match_the_model(covariance_type, n_features):
    """1e5 draws: per-component frequency, mean and covariance within 6
    standard errors of the fitted weights, means and covariances."""
    rd = RandomData(np.random.RandomState(1), n_samples=600, n_components=3,
                    n_features=n_features, scale=8)
    gm = GaussianMixture(n_components=3, covariance_type=covariance_type,
                         random_state=0).fit(rd.X[covariance_type])
    n = 100_000
    Xs, ys = gm.sample(n)
    assert Xs.shape == (n, n_features)
    assert ys.shape == (n,)
    assert np.issubdtype(ys.dtype, np.integer)
    assert set(np.unique(ys)) <= set(range(3))
    covs = model_full_covariances(gm)
    z = 6.0
    for k in range(3):
        w = gm.weights_[k]
        nk = int(np.sum(ys == k))
        assert abs(nk / n - w) <= z * np.sqrt(w * (1 - w) / n), f"weight of component {k}"
        Xk = Xs[ys == k].astype(np.float64)
        S = covs[k]
        se_mean = np.sqrt(np.diag(S) / nk)
        assert np.all(np.abs(Xk.mean(0) - gm.means_[k]) <= z * se_mean), f"mean of {k}"
        emp = np.atleast_2d(np.cov(Xk.T))
        se_cov = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / nk)
        assert np.all(np.abs(emp - S) <= z * se_cov), f"covariance of component {k}"


def test_sample_small_sizes_and_invalid_n_samples():
    gm = GaussianMixture(n_components=2, random_state=0).fit(RandomData(
        np.random.RandomState(0)).X["full"])
    for size in (1, 2, 7):
        Xs, ys = gm.sample(size)
        assert Xs.shape == (size, 2) and ys.shape == (size,)
    Xs, ys = gm.sample()
    assert Xs.shape == (1, 2)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n_samples"):
            gm.sample(bad)
    for bad in ("3", None):  # TypeError, as in scikit-learn
        with pytest.raises(TypeError):
            gm.sample(bad)
    assert gm.sample(np.int64(3))[0].shape == (3, 2)


def test_sample_with_int_random_state_repeats_draws():
    """Like scikit-learn: sample() seeds from the estimator's random_state, so
    an int seed gives the same draws on every call."""
    X = RandomData(np.random.RandomState(0)).X["full"]
    gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    a, la = gm.sample(50)
    b, lb = gm.sample(50)
    assert_array_equal(a, b)
    assert_array_equal(la, lb)


def test_sample_without_seed_differs_between_calls():
    X = RandomData(np.random.RandomState(0)).X["full"]
    gm = GaussianMixture(n_components=2, random_state=None).fit(X)
    a, _ = gm.sample(50)
    b, _ = gm.sample(50)
    assert not np.array_equal(a, b)


@pytest.mark.beyond_sklearn
def test_sample_random_state_argument():
    X = RandomData(np.random.RandomState(0)).X["full"]
    gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    a, la = gm.sample(50, random_state=3)
    b, lb = gm.sample(50, random_state=3)
    c, _ = gm.sample(50, random_state=4)
    assert_array_equal(a, b)
    assert_array_equal(la, lb)
    assert not np.array_equal(a, c)
    # None falls back to the estimator's random_state
    d, _ = gm.sample(50, random_state=None)
    e, _ = gm.sample(50)
    assert_array_equal(d, e)
    # a RandomState instance is consumed: consecutive draws differ
    rs = np.random.RandomState(5)
    f, _ = gm.sample(50, random_state=rs)
    g, _ = gm.sample(50, random_state=rs)
    assert not np.array_equal(f, g)


# --------------------------------------------------------------------------- AIC / BIC


def test_parameter_count_table():
    """scikit-learn's table for 5 features, 2 components, recovered from aic()."""
    X = np.random.RandomState(0).randn(50, 5)
    table = {"spherical": 13, "diag": 21, "tied": 26, "full": 41}
    for t, expected in table.items():
        gm = GaussianMixture(n_components=2, covariance_type=t, random_state=0).fit(X)
        n = X.shape[0]
        p_from_aic = (gm.aic(X) + 2 * n * gm.score(X)) / 2
        assert round(p_from_aic) == expected == n_parameters(t, 2, 5)
        assert_allclose(p_from_aic, expected, rtol=1e-9)


@pytest.mark.parametrize("n_components,n_features", [(1, 1), (2, 3), (4, 2)])
def test_aic_bic_formulas(covariance_type, n_components, n_features):
    rng = np.random.RandomState(n_components)
    X = rng.randn(120, n_features) + np.repeat(rng.randn(4, n_features) * 4, 30, axis=0)
    gm = GaussianMixture(n_components=n_components, covariance_type=covariance_type,
                         random_state=0, max_iter=200).fit(X)
    n = X.shape[0]
    p = n_parameters(covariance_type, n_components, n_features)
    log_lik = gm.score_samples(X).sum()
    assert_allclose(gm.aic(X), -2 * log_lik + 2 * p, rtol=1e-10)
    assert_allclose(gm.bic(X), -2 * log_lik + p * np.log(n), rtol=1e-10)


def test_aic_bic_close_to_gaussian_entropy(covariance_type):
    # scikit-learn's test_gaussian_mixture_aic_bic
    rng = np.random.RandomState(0)
    n_samples, n_features, n_components = 50, 3, 2
    X = rng.randn(n_samples, n_features)
    sgh = 0.5 * (np.linalg.slogdet(np.cov(X.T, bias=True))[1]
                 + n_features * (1 + np.log(2 * np.pi)))
    gm = GaussianMixture(n_components=n_components, covariance_type=covariance_type,
                         random_state=0, max_iter=200).fit(X)
    p = n_parameters(covariance_type, n_components, n_features)
    aic = 2 * n_samples * sgh + 2 * p
    bic = 2 * n_samples * sgh + np.log(n_samples) * p
    bound = n_features / np.sqrt(n_samples)
    assert (gm.aic(X) - aic) / n_samples < bound
    assert (gm.bic(X) - bic) / n_samples < bound


# --------------------------------------------------------------------------- recovery


def test_recovers_the_generating_mixture(covariance_type):
    # scikit-learn's test_gaussian_mixture_fit, on 2000 samples
    rd = RandomData(np.random.RandomState(0), n_samples=2000)
    gm = GaussianMixture(n_components=2, n_init=5, reg_covar=0, random_state=0,
                         covariance_type=covariance_type).fit(rd.X[covariance_type])
    order = np.argsort(gm.means_[:, 0])
    true_order = np.argsort(rd.means[:, 0])
    assert_allclose(gm.weights_[order], rd.weights[true_order], rtol=0.1, atol=1e-2)
    assert_allclose(gm.means_[order], rd.means[true_order], rtol=0.1, atol=0.1)
    true_cov = {
        "full": lambda: rd.covariances["full"][true_order],
        "tied": lambda: rd.covariances["tied"],
        "diag": lambda: rd.covariances["diag"][true_order],
        "spherical": lambda: rd.covariances["spherical"][true_order],
    }[covariance_type]()
    got_cov = gm.covariances_ if covariance_type == "tied" else gm.covariances_[order]
    assert_allclose(got_cov, true_cov, atol=0.15 * np.abs(true_cov).max())


def test_max_iter_zero_returns_initial_means():
    # scikit-learn's test_max_iter_zero
    X = RandomData(np.random.RandomState(0), scale=5).X["full"]
    means_init = [[20, 30], [30, 25]]
    gm = GaussianMixture(n_components=2, random_state=0, means_init=means_init, tol=1e-6,
                         max_iter=0).fit(X)
    assert_allclose(gm.means_, means_init)
    assert gm.n_iter_ == 0
