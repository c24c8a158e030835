"""Weighted fits (issue 2, acceptance 5): a gaussmix extension of
scikit-learn's API, so every test here is skipped against scikit-learn.

Integer sample_weight must give the same fit as repeating rows; zero weight
the same fit as dropping rows; a constant weight the same as no weight. From
identical initial parameters EM is deterministic, so the comparisons are
tight. The weights are validated like scikit-learn's ``_check_sample_weight``.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

from estimator_helpers import (
    assert_allclose_scaled,
    make_blobs_data,
    make_overlapping_data,
    random_init,
)
from gaussmix import GaussianMixture

pytestmark = pytest.mark.beyond_sklearn

FITTED = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]


_INIT_DATA = make_overlapping_data(n_samples=300)[0]


def _fit(X, covariance_type, dtype=np.float64, sample_weight=None, **params):
    """EM from initial parameters that depend only on the covariance type and
    dtype (never on X), so fits on different versions of X start identically."""
    kwargs = dict(n_components=3, covariance_type=covariance_type, max_iter=200)
    kwargs.update(random_init(_INIT_DATA, 3, covariance_type, seed=0, dtype=dtype))
    kwargs.update(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(**kwargs).fit(X.astype(dtype), sample_weight=sample_weight)


def _assert_same_fit(a, b, rtol, where=""):
    assert a.n_iter_ == b.n_iter_, where
    assert a.converged_ == b.converged_, where
    for attr in FITTED:
        assert_allclose_scaled(getattr(a, attr), getattr(b, attr), rtol, err_msg=f"{where} {attr}")
    assert_allclose(a.lower_bound_, b.lower_bound_, rtol=rtol, err_msg=f"{where} lower_bound_")
    assert_allclose_scaled(a.lower_bounds_, b.lower_bounds_, rtol, err_msg=f"{where} lower_bounds_")


def test_integer_weights_equal_repeated_rows(covariance_type, dtype):
    X, _ = make_overlapping_data(n_samples=300)
    w = np.random.RandomState(0).randint(1, 5, size=len(X))
    weighted = _fit(X, covariance_type, dtype, sample_weight=w)
    repeated = _fit(np.repeat(X, w, axis=0), covariance_type, dtype)
    _assert_same_fit(weighted, repeated, 1e-9 if dtype == np.float64 else 1e-4,
                     f"{covariance_type}")


def test_integer_weights_equal_repeated_rows_many_blocks(covariance_type):
    """Thousands of rows (many row blocks, several threads) with weights up to 9."""
    X, _ = make_overlapping_data(n_samples=6000, seed=7)
    w = np.random.RandomState(8).randint(1, 10, size=len(X))
    weighted = _fit(X, covariance_type, sample_weight=w)
    repeated = _fit(np.repeat(X, w, axis=0), covariance_type)
    _assert_same_fit(weighted, repeated, 1e-9, covariance_type)


def test_zero_weights_equal_dropped_rows(covariance_type):
    X, _ = make_overlapping_data(n_samples=300)
    rng = np.random.RandomState(1)
    w = rng.randint(0, 3, size=len(X)).astype(np.float64)  # a third of the rows dropped
    kept = w > 0
    weighted = _fit(X, covariance_type, sample_weight=w)
    dropped = _fit(X[kept], covariance_type, sample_weight=w[kept])
    _assert_same_fit(weighted, dropped, 1e-10, covariance_type)
    # and zero-weight rows far away from everything change nothing
    outliers = np.vstack([X, 1e3 + np.arange(30.0).reshape(10, 3)])
    w_out = np.concatenate([w, np.zeros(10)])
    _assert_same_fit(_fit(outliers, covariance_type, sample_weight=w_out), weighted, 1e-10,
                     f"{covariance_type} with zero-weight outliers")


@pytest.mark.parametrize("constant", [1.0, 0.25, 3.7])
def test_constant_weights_equal_unweighted(covariance_type, constant):
    X, _ = make_overlapping_data(n_samples=300)
    unweighted = _fit(X, covariance_type)
    weighted = _fit(X, covariance_type, sample_weight=np.full(len(X), constant))
    _assert_same_fit(weighted, unweighted, 1e-10, f"{covariance_type} x{constant}")


def test_weighted_one_component_closed_form(covariance_type):
    rng = np.random.RandomState(2)
    X = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 3)) + 5.0
    w = rng.uniform(0.0, 2.0, size=len(X))
    gm = GaussianMixture(n_components=1, covariance_type=covariance_type, reg_covar=1e-3)
    gm.fit(X, sample_weight=w)
    mean = np.average(X, axis=0, weights=w)
    cov = np.cov(X.T, aweights=w, bias=True)
    expected = {
        "full": (cov + 1e-3 * np.eye(3))[None],
        "tied": cov + 1e-3 * np.eye(3),
        "diag": (np.diag(cov) + 1e-3)[None],
        "spherical": np.array([np.mean(np.diag(cov)) + 1e-3]),
    }[covariance_type]
    assert_allclose_scaled(gm.means_, mean[None], 1e-10)
    assert_allclose_scaled(gm.covariances_, expected, 1e-10)
    assert_allclose(gm.weights_, [1.0])


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data"])
def test_integer_weights_with_random_init_find_the_same_clusters(covariance_type, init_params):
    X, y = make_blobs_data(n_samples=300)
    w = np.random.RandomState(3).randint(1, 4, size=len(X))
    kwargs = dict(n_components=4, covariance_type=covariance_type, random_state=0, n_init=3,
                  init_params=init_params)
    weighted = GaussianMixture(**kwargs).fit(X, sample_weight=w)
    repeated = GaussianMixture(**kwargs).fit(np.repeat(X, w, axis=0))
    assert adjusted_rand_score(weighted.predict(X), repeated.predict(X)) > 0.99
    assert adjusted_rand_score(y, weighted.predict(X)) > 0.99


def test_weighted_score_and_fit_predict():
    X, _ = make_overlapping_data(n_samples=300)
    w = np.random.RandomState(4).uniform(0.0, 3.0, size=len(X))
    gm = GaussianMixture(n_components=3, random_state=0)
    labels = gm.fit_predict(X, sample_weight=w)
    assert_array_equal(labels, gm.predict(X))
    refit = GaussianMixture(n_components=3, random_state=0).fit(X, sample_weight=w)
    assert_array_equal(labels, refit.predict(X))
    assert_allclose(gm.score(X, sample_weight=w),
                    np.average(gm.score_samples(X), weights=w), rtol=1e-12)
    assert_allclose(gm.score(X, sample_weight=None), gm.score(X), rtol=1e-15)
    # lists are accepted like arrays
    assert_allclose(gm.score(X, sample_weight=list(w)), gm.score(X, sample_weight=w),
                    rtol=1e-15)


def test_float64_weights_with_float32_data():
    X, _ = make_overlapping_data(n_samples=300)
    w = np.random.RandomState(5).randint(1, 4, size=len(X)).astype(np.float64)
    gm = GaussianMixture(n_components=3, random_state=0).fit(X.astype(np.float32),
                                                             sample_weight=w)
    for attr in FITTED:
        assert getattr(gm, attr).dtype == np.float32, attr


def _bad_weights(n):
    return {
        "negative": np.r_[-1.0, np.ones(n - 1)],
        "nan": np.r_[np.nan, np.ones(n - 1)],
        "inf": np.r_[np.inf, np.ones(n - 1)],
        "too_short": np.ones(n - 1),
        "too_long": np.ones(n + 1),
        "two_dimensional": np.ones((n, 2)),
        "all_zero": np.zeros(n),
    }


@pytest.mark.parametrize("case", list(_bad_weights(3)))
@pytest.mark.parametrize("method", ["fit", "fit_predict", "score"])
def test_invalid_sample_weight_raises(case, method):
    X, _ = make_overlapping_data(n_samples=90)
    w = _bad_weights(len(X))[case]
    gm = GaussianMixture(n_components=2, random_state=0)
    if method == "score":
        gm.fit(X)
        if case == "all_zero":  # a zero-sum average is undefined
            with pytest.raises(ValueError, match="sample_weight|weights sum to zero"):
                gm.score(X, sample_weight=w)
            return
    with pytest.raises(ValueError, match="sample_weight"):
        getattr(gm, method)(X, sample_weight=w)


def test_non_numeric_sample_weight_raises():
    X, _ = make_overlapping_data(n_samples=90)
    with pytest.raises((ValueError, TypeError)):
        GaussianMixture(n_components=2).fit(X, sample_weight=["a"] * len(X))


def test_fewer_weighted_samples_than_components_is_usable_or_clear():
    """Only two samples carry weight but three components are asked for:
    a finite model or a clear ValueError, never NaN."""
    X, _ = make_overlapping_data(n_samples=90)
    w = np.zeros(len(X))
    w[:2] = 1.0
    gm = GaussianMixture(n_components=3, random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X, sample_weight=w)
    except ValueError as exc:
        assert str(exc)
        return
    for attr in FITTED:
        assert np.all(np.isfinite(getattr(gm, attr))), attr
    assert np.all(np.isfinite(gm.score_samples(X)))
