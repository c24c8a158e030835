"""EM with missing values: GaussianMixture(missing="marginalize"), impute, GaussianMixtureImputer.

The oracle is a naive per-row NumPy EM written from the textbook formulas (dense covariance
blocks, ``np.linalg.solve`` and ``slogdet``; no Cholesky factors, no grouping by pattern), run
from the same initial parameters.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from gaussmix import GaussianMixture, GaussianMixtureImputer, sweep

from estimator_helpers import COVARIANCE_TYPES

pytestmark = pytest.mark.beyond_sklearn

PARAMETERS = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def dense_covariances(covariances, covariance_type, n_components, n_features):
    """(K, D, D) covariance matrices from scikit-learn's per-type storage."""
    if covariance_type == "full":
        return np.array(covariances, dtype=float)
    if covariance_type == "tied":
        return np.repeat(np.asarray(covariances, dtype=float)[None], n_components, axis=0)
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in covariances])
    return np.array([c * np.eye(n_features) for c in covariances])


def naive_em(X, weights, means, covariances, covariance_type, n_iter, reg_covar):
    """Per-row EM on the observed entries; returns (weights, means, covariances, lower bounds)."""
    n, D = X.shape
    K = len(weights)
    eps = 10 * np.finfo(float).eps
    bounds = []
    for _ in range(n_iter):
        S = dense_covariances(covariances, covariance_type, K, D)
        resp = np.zeros((n, K))
        filled = np.zeros((K, n, D))
        conditional = np.zeros((K, n, D, D))
        log_norm = np.zeros(n)
        keep = np.zeros(n, dtype=bool)
        for i in range(n):
            o = ~np.isnan(X[i])
            m = ~o
            if not o.any():
                continue
            keep[i] = True
            log_p = np.zeros(K)
            for k in range(K):
                delta = X[i, o] - means[k, o]
                S_oo = S[k][np.ix_(o, o)]
                S_mo = S[k][np.ix_(m, o)]
                _, logdet = np.linalg.slogdet(S_oo)
                log_p[k] = (np.log(weights[k]) - 0.5 * o.sum() * np.log(2 * np.pi) - 0.5 * logdet
                            - 0.5 * delta @ np.linalg.solve(S_oo, delta))
                filled[k, i] = X[i]
                filled[k, i, m] = means[k, m] + S_mo @ np.linalg.solve(S_oo, delta)
                conditional[k, i][np.ix_(m, m)] = S[k][np.ix_(m, m)] - S_mo @ np.linalg.solve(S_oo, S_mo.T)
            top = log_p.max()
            log_norm[i] = top + np.log(np.exp(log_p - top).sum())
            resp[i] = np.exp(log_p - log_norm[i])
        bounds.append(log_norm[keep].mean())
        resp, filled, conditional = resp[keep], filled[:, keep], conditional[:, keep]
        nk = resp.sum(axis=0) + eps
        weights = nk / nk.sum()
        means = np.array([resp[:, k] @ filled[k] for k in range(K)]) / nk[:, None]
        scatter = np.zeros((K, D, D))
        for k in range(K):
            centered = filled[k] - means[k]
            scatter[k] = (np.einsum("i,ia,ib->ab", resp[:, k], centered, centered)
                          + np.einsum("i,iab->ab", resp[:, k], conditional[k]))
        if covariance_type == "full":
            covariances = scatter / nk[:, None, None] + reg_covar * np.eye(D)
        elif covariance_type == "tied":
            covariances = scatter.sum(axis=0) / nk.sum() + reg_covar * np.eye(D)
        elif covariance_type == "diag":
            covariances = np.array([np.diag(s) for s in scatter]) / nk[:, None] + reg_covar
        else:
            covariances = np.array([np.diag(s).mean() for s in scatter]) / nk + reg_covar
    return weights, means, covariances, bounds


def punch_holes(X, fraction, seed):
    """X with `fraction` of its entries set to NaN completely at random."""
    X = np.array(X, dtype=float)
    X[np.random.RandomState(seed).uniform(size=X.shape) < fraction] = np.nan
    return X


def initial_precisions(covariance_type, K, D, rng):
    """Random positive definite precisions in scikit-learn's per-type shape."""
    if covariance_type == "spherical":
        return rng.uniform(0.5, 2.0, size=K)
    if covariance_type == "diag":
        return rng.uniform(0.5, 2.0, size=(K, D))
    A = rng.normal(size=(K, D, D)) * 0.3
    full = np.array([a @ a.T + np.eye(D) for a in A])
    return full[0] if covariance_type == "tied" else full


@pytest.fixture
def incomplete():
    rng = np.random.RandomState(3)
    X = np.vstack([rng.multivariate_normal([0, 0, 0], [[1, .6, .2], [.6, 1, .4], [.2, .4, 1]], 40),
                   rng.multivariate_normal([3, -2, 1], [[1, -.5, 0], [-.5, 2, .3], [0, .3, .5]], 30)])
    X = punch_holes(X, 0.25, 4)
    X[5] = np.nan            # nothing observed
    X[6, 1:] = np.nan        # one observed
    return X


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_matches_naive_per_row_em(incomplete, covariance_type):
    X = incomplete
    K, D = 2, X.shape[1]
    rng = np.random.RandomState(1)
    weights = np.array([0.4, 0.6])
    means = np.array([[0.5, 0.5, 0.0], [2.0, -1.0, 1.0]])
    precisions = initial_precisions(covariance_type, K, D, rng)
    covariances = np.linalg.inv(precisions) if covariance_type in ("full", "tied") else 1.0 / precisions
    n_iter = 6
    gm = GaussianMixture(K, covariance_type=covariance_type, weights_init=weights, means_init=means,
                         precisions_init=precisions, max_iter=n_iter, tol=0.0, missing="marginalize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    w, mu, cov, bounds = naive_em(X, weights, means, covariances, covariance_type, n_iter, gm.reg_covar)
    np.testing.assert_allclose(gm.weights_, w, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(gm.means_, mu, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gm.covariances_, cov, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gm.lower_bounds_, bounds, rtol=1e-8)
    # The lower bound of exact EM never decreases.
    assert np.all(np.diff(gm.lower_bounds_) >= -1e-10)
    # Scoring agrees with the naive marginal log-likelihood under the fitted parameters.
    _, _, _, fitted_bound = naive_em(X, gm.weights_, gm.means_, gm.covariances_, covariance_type, 1, 0.0)
    keep = ~np.isnan(X).all(axis=1)
    np.testing.assert_allclose(gm.score_samples(X)[keep].mean(), fitted_bound[0], rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_without_nan_bit_identical_to_standard_fit(blobs, covariance_type, dtype):
    X = blobs[0].astype(dtype)
    plain = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)
    marginal = GaussianMixture(4, covariance_type=covariance_type, random_state=0, missing="marginalize").fit(X)
    for name in PARAMETERS:
        assert getattr(marginal, name).dtype == dtype
        np.testing.assert_array_equal(getattr(marginal, name), getattr(plain, name))
    assert marginal.lower_bounds_ == plain.lower_bounds_ and marginal.n_iter_ == plain.n_iter_
    np.testing.assert_array_equal(marginal.score_samples(X), plain.score_samples(X))
    np.testing.assert_array_equal(marginal.predict_proba(X), plain.predict_proba(X))
    np.testing.assert_array_equal(marginal.predict(X), plain.predict(X))
    assert marginal.score(X) == plain.score(X)
    np.testing.assert_array_equal(marginal.impute(X), X)


def test_nan_rejected_by_default(incomplete):
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GaussianMixture(2).fit(incomplete)
    gm = GaussianMixture(2, random_state=0).fit(np.nan_to_num(incomplete))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        gm.score_samples(incomplete)
    # The policy is read at each call: the same model scores incomplete data when allowed.
    assert np.all(np.isfinite(gm.set_params(missing="marginalize").score_samples(incomplete)))
    with pytest.raises(ValueError, match="missing"):
        GaussianMixture(missing="impute").fit(incomplete)


def test_nan_error_names_gaussmix_way_out(incomplete):
    # scikit-learn's message suggests supervised estimators and imputers; gaussmix's own
    # missing='marginalize' is added wherever it would work, and only there.
    hint = "missing='marginalize'"
    gm = GaussianMixture(2, random_state=0).fit(np.nan_to_num(incomplete))
    for call in (lambda: GaussianMixture(2).fit(incomplete), lambda: gm.score_samples(incomplete),
                 lambda: gm.predict(incomplete), lambda: gm.bic(incomplete),
                 lambda: sweep(incomplete, [1, 2], random_state=0)):
        with pytest.raises(ValueError, match="Input X contains NaN") as raised:
            call()
        assert hint in str(raised.value)
    with pytest.raises(ValueError, match="Input X contains infinity") as raised:
        gm.score_samples(np.where(np.isnan(incomplete), np.inf, incomplete))
    assert hint not in str(raised.value)
    for missing in ("error", "marginalize"):  # online EM takes complete rows only, and says so
        online = GaussianMixture(2, missing=missing, random_state=0)
        with pytest.raises(ValueError, match="Input X contains NaN(.|\n)*partial_fit's online EM takes complete"):
            online.partial_fit(incomplete)
        online.partial_fit(np.nan_to_num(incomplete))
        with pytest.raises(ValueError, match="partial_fit's online EM takes complete"):
            online.partial_fit(incomplete)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_rows_with_nothing_observed_have_likelihood_one(incomplete, covariance_type):
    X = incomplete
    empty = np.full((4, X.shape[1]), np.nan)
    options = dict(n_components=2, covariance_type=covariance_type, random_state=0, missing="marginalize")
    gm = GaussianMixture(**options).fit(X)
    padded = GaussianMixture(**options).fit(np.vstack([X, empty]))
    for name in PARAMETERS:
        np.testing.assert_allclose(getattr(padded, name), getattr(gm, name), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gm.score_samples(empty), 0.0, atol=1e-12)
    np.testing.assert_allclose(gm.predict_proba(empty), np.tile(gm.weights_, (4, 1)), rtol=1e-12)
    np.testing.assert_array_equal(gm.predict(empty), np.argmax(gm.weights_))
    np.testing.assert_allclose(gm.impute(empty), np.tile(gm.weights_ @ gm.means_, (4, 1)), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_hostile_patterns(incomplete, covariance_type):
    X = incomplete
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0, missing="marginalize")
    with pytest.raises(ValueError, match="column 1 of X has no observed value"):
        clone(gm).fit(np.column_stack([X[:, 0], np.full(len(X), np.nan), X[:, 2]]))
    with pytest.raises(ValueError, match="column 0 of X has no observed value"):
        clone(gm).fit(np.full_like(X, np.nan))
    infinite = X.copy()
    infinite[0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        clone(gm).fit(infinite)
    # Rows with a single observed entry, fit and scored: finite parameters and outputs.
    sparse = X.copy()
    for i in range(len(sparse)):
        sparse[i, np.arange(3) != i % 3] = np.nan
    fitted = clone(gm).fit(sparse)
    for name in PARAMETERS:
        assert np.all(np.isfinite(getattr(fitted, name)))
    for method in ("score_samples", "predict_proba", "impute"):
        assert np.all(np.isfinite(getattr(fitted, method)(sparse)))
    # A column missing everywhere at inference is fine: it is marginalised out.
    fitted = clone(gm).fit(X)
    blank_column = X.copy()
    blank_column[:, 1] = np.nan
    assert np.all(np.isfinite(fitted.score_samples(blank_column)))
    assert np.all(np.isfinite(fitted.impute(blank_column)))
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(3, missing="marginalize").fit(np.array([[1.0, np.nan], [np.nan, np.nan], [2.0, 3.0]]))


def test_float32_follows_float64(incomplete):
    options = dict(n_components=2, random_state=0, missing="marginalize")
    gm64 = GaussianMixture(**options).fit(incomplete)
    gm32 = GaussianMixture(**options).fit(incomplete.astype(np.float32))
    for name in PARAMETERS:
        assert getattr(gm32, name).dtype == np.float32
        np.testing.assert_allclose(getattr(gm32, name), getattr(gm64, name), rtol=1e-3, atol=1e-3)
    X32 = incomplete.astype(np.float32)
    for method in ("score_samples", "predict_proba", "impute"):
        out = getattr(gm32, method)(X32)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, getattr(gm64, method)(incomplete), rtol=1e-3, atol=1e-3)


def test_integer_sample_weight_equals_repeated_rows(incomplete):
    X = incomplete
    counts = np.random.RandomState(0).randint(0, 3, size=len(X))
    start = dict(weights_init=[0.5, 0.5], means_init=[[0, 0, 0], [3, -2, 1]], precisions_init=[np.eye(3)] * 2,
                 max_iter=20, tol=0.0,
                 missing="marginalize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = GaussianMixture(2, **start).fit(X, sample_weight=counts)
        repeated = GaussianMixture(2, **start).fit(np.repeat(X, counts, axis=0))
    for name in PARAMETERS:
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.score(X, sample_weight=counts), repeated.score(np.repeat(X, counts, axis=0)))


def test_warm_start_continues_on_incomplete_data(incomplete):
    gm = GaussianMixture(2, random_state=0, max_iter=2, warm_start=True, missing="marginalize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = gm.fit(incomplete).lower_bound_
        second = gm.fit(incomplete).lower_bound_
    assert second >= first - 1e-12


def test_impute_conditional_mean_of_one_gaussian():
    rng = np.random.RandomState(0)
    cov = np.array([[1.0, 0.8, 0.3], [0.8, 2.0, 0.5], [0.3, 0.5, 1.5]])
    X = punch_holes(rng.multivariate_normal([1, 2, 3], cov, 2000), 0.2, 1)
    gm = GaussianMixture(1, missing="marginalize", random_state=0).fit(X)
    imputed = gm.impute(X)
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(imputed[observed], X[observed])
    mu, S = gm.means_[0], gm.covariances_[0]
    for i in np.flatnonzero((~observed).any(axis=1) & observed.any(axis=1))[:50]:
        o, m = observed[i], ~observed[i]
        expected = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], X[i, o] - mu[o])
        np.testing.assert_allclose(imputed[i, m], expected, rtol=1e-10)


def test_impute_sample_draws_from_the_conditional():
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal([0, 0], [[1.0, 0.6], [0.6, 1.0]], 3000)
    gm = GaussianMixture(1, missing="marginalize", random_state=0).fit(X)
    query = np.tile([1.0, np.nan], (4000, 1))
    draws = gm.impute(query, sample=True, random_state=1)[:, 1]
    mu, S = gm.means_[0], gm.covariances_[0]
    mean = mu[1] + S[1, 0] / S[0, 0] * (1.0 - mu[0])
    variance = S[1, 1] - S[1, 0] ** 2 / S[0, 0]
    assert abs(draws.mean() - mean) < 4 * np.sqrt(variance / len(draws))
    assert abs(draws.var() / variance - 1) < 0.1
    np.testing.assert_array_equal(gm.impute(query, sample=True, random_state=1)[:, 1], draws)
    assert not np.array_equal(gm.impute(query, sample=True, random_state=2)[:, 1], draws)
    np.testing.assert_array_equal(gm.impute(query, sample=True, random_state=1)[:, 0], 1.0)


def test_imputer_in_a_pipeline():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X_missing = punch_holes(X, 0.2, 0)
    pipeline = make_pipeline(GaussianMixtureImputer(n_components=3, random_state=0), LogisticRegression(max_iter=500))
    accuracy = pipeline.fit(X_missing, y).score(X_missing, y)
    assert accuracy > 0.85
    imputer = clone(pipeline.steps[0][1]).fit(X_missing)
    filled = imputer.transform(X_missing)
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~np.isnan(X_missing)], X_missing[~np.isnan(X_missing)])
    drawn = imputer.set_params(sample_posterior=True).transform(X_missing)
    assert not np.isnan(drawn).any() and not np.array_equal(drawn, filled)
    # Better than the column means on the removed entries.
    removed = np.isnan(X_missing)
    column_means = np.nanmean(X_missing, axis=0)
    rmse = np.sqrt(np.mean((filled - X)[removed] ** 2))
    assert rmse < np.sqrt(np.mean((np.broadcast_to(column_means, X.shape) - X)[removed] ** 2))
